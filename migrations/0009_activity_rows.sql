-- Activities as one row each, their participants in an array (docs/adr/0012-activity-rows.md), in the
-- three read models that kept a row per participation: coverage, compliance and the service record.
-- Arrays are sorted by volunteer id (the projectors write them so), which makes the converted rows equal
-- to rows rebuilt from the log. The projectors' checkpoints stay where they are: the converted tables
-- hold exactly the facts the old ones held.
--
-- Not compatible with a projector or query of the previous version running while this applies: it
-- writes and reads the dropped tables. Queries fail (500). A previous version's projector would PARK
-- the activity events it meets (it classes a missing table as permanent; this version retries instead)
-- and move on. Upgrade runbook: stop the previous version's projectors first (Kubernetes: scale
-- deployment/ledger-projector to 0, or LEDGER_PROJECTORS=off on API pods that lead), then start this
-- version; afterwards `ledger-api parked list coverage` (and compliance, service_record) must be empty —
-- if not, `ledger-api parked retry <projector>` applies the parked events with this version's code.
-- Every table here can be dropped and rebuilt from the log (`ledger-api rebuild --all`).

-- ---- coverage: activities instead of participations --------------------------------------------------------

CREATE TABLE coverage_activities (
    activity_id  uuid    PRIMARY KEY,
    team_id      uuid    NOT NULL,
    on_date      date    NOT NULL,
    voided       boolean NOT NULL DEFAULT false,
    participants uuid[]  NOT NULL
);
CREATE INDEX coverage_activities_team ON coverage_activities (team_id, on_date);

INSERT INTO coverage_activities (activity_id, team_id, on_date, voided, participants)
SELECT activity_id, (array_agg(team_id))[1], min(on_date), bool_or(voided),
    array_agg(volunteer_id ORDER BY volunteer_id)
FROM coverage_participations
GROUP BY activity_id;

DROP TABLE coverage_participations;

REVOKE ALL ON coverage_activities FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON coverage_activities TO ledger_service;

-- ---- compliance: participants on the activity ---------------------------------------------------------------

ALTER TABLE compliance_activities ADD COLUMN participants uuid[] NOT NULL DEFAULT '{}';
UPDATE compliance_activities a SET participants = p.participants
FROM (SELECT activity_id, array_agg(volunteer_id ORDER BY volunteer_id) AS participants
      FROM compliance_participations GROUP BY activity_id) p
WHERE a.activity_id = p.activity_id;
ALTER TABLE compliance_activities ALTER COLUMN participants DROP DEFAULT;

DROP TABLE compliance_participations;

-- ---- service record: participants and their minutes on the activity -----------------------------------------

ALTER TABLE service_record_activities
    ADD COLUMN participants uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN minutes      int4[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT service_record_activities_minutes_per_participant
        CHECK (cardinality(minutes) = cardinality(participants)),
    ADD CONSTRAINT service_record_activities_minutes_not_negative CHECK (0 <= ALL (minutes));
UPDATE service_record_activities a SET participants = p.participants, minutes = p.minutes
FROM (SELECT activity_id, array_agg(volunteer_id ORDER BY volunteer_id) AS participants,
          array_agg(minutes ORDER BY volunteer_id) AS minutes
      FROM service_record_participations GROUP BY activity_id) p
WHERE a.activity_id = p.activity_id;
ALTER TABLE service_record_activities
    ALTER COLUMN participants DROP DEFAULT,
    ALTER COLUMN minutes DROP DEFAULT;

DROP TABLE service_record_participations;
