//! Unit tests of the crate's behaviour: each test names the behaviour it pins.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::error::{KeyEncoding, KeyRole, RecordProblem};
use crate::hasher::hmac_sha256;
use crate::*;

const SUBJECT: &str = "volunteer-0190f5a4-7c1e-7b3a-9d2e-5f6a7b8c9d0e";
const OTHER_SUBJECT: &str = "volunteer-0190f5a4-7c1e-7b3a-9d2e-5f6a7b8c9d0f";
const PURPOSE: &str = "volunteer.personal";

fn key_bytes(seed: u8) -> [u8; 32] {
    core::array::from_fn(|i| seed.wrapping_add(i as u8))
}

fn master(version: u8, seed: u8) -> MasterKey {
    match MasterKey::from_config_text(version, &hex::encode(key_bytes(seed))) {
        Ok(k) => k,
        Err(e) => panic!("test master key: {e}"),
    }
}

fn hasher(seed: u8) -> KeyedHasher {
    match KeyedHasher::from_config_text(&hex::encode(key_bytes(seed))) {
        Ok(h) => h,
        Err(e) => panic!("test hasher: {e}"),
    }
}

fn data_key() -> DataKey {
    match DataKey::generate() {
        Ok(k) => k,
        Err(e) => panic!("data key: {e}"),
    }
}

fn sealed(key: &DataKey, plaintext: &[u8]) -> SealedValue {
    match seal(key, SUBJECT, PURPOSE, plaintext) {
        Ok(s) => s,
        Err(e) => panic!("seal: {e}"),
    }
}

fn record() -> PersonalRecord {
    PersonalRecord {
        name: "欧阳娜娜".to_owned(),
        id_number: Some("33060219800101123X".to_owned()),
        phone: Some("13589971234".to_owned()),
    }
}

// ---------------------------------------------------------------- configuration text

#[test]
fn master_key_reads_every_accepted_text_form_as_the_same_key() {
    let bytes = key_bytes(7);
    let forms = [
        hex::encode(bytes),
        hex::encode_upper(bytes),
        format!("hex:{}", hex::encode(bytes)),
        format!("  {}\n", hex::encode(bytes)),
        STANDARD.encode(bytes),
        STANDARD.encode(bytes).trim_end_matches('=').to_owned(),
        URL_SAFE_NO_PAD.encode(bytes),
        format!("base64:{}", STANDARD.encode(bytes)),
    ];
    let reference = master(1, 7);
    let dk = data_key();
    let wrapped = reference.wrap_data_key(SUBJECT, &dk).ok();
    for form in forms {
        let mk = MasterKey::from_config_text(1, &form);
        let Ok(mk) = mk else {
            panic!("form {form:?} refused: {mk:?}")
        };
        let Some(wrapped) = &wrapped else {
            panic!("wrap failed")
        };
        let unwrapped = mk.unwrap_data_key(SUBJECT, wrapped);
        assert!(
            matches!(unwrapped, Ok(k) if k.bytes() == dk.bytes()),
            "form {form:?} decoded to another key"
        );
    }
}

#[test]
fn an_all_zero_key_in_unpadded_base64_is_not_mistaken_for_odd_hex() {
    // 43 × 'A' is hex-digit-only with an odd length, yet valid unpadded base64 of 32 zero bytes.
    let text = "A".repeat(43);
    assert!(MasterKey::from_config_text(1, &text).is_ok());
    assert!(MasterKey::from_config_text(1, &"0".repeat(64)).is_ok());
}

#[test]
fn key_text_errors_name_the_key_the_encoding_and_the_length_but_not_the_text() {
    let short_hex = hex::encode([0xab; 31]);
    let e = MasterKey::from_config_text(1, &short_hex).err();
    assert!(matches!(
        e,
        Some(Error::KeyLength {
            key: KeyRole::MasterKey,
            encoding: KeyEncoding::Hex,
            len: 31
        })
    ));
    let msg = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("master key") && msg.contains("hex") && msg.contains("31"));
    assert!(!msg.contains(&short_hex));

    let short_b64 = STANDARD.encode([0xcd; 16]);
    let e = KeyedHasher::from_config_text(&short_b64).err();
    assert!(matches!(
        e,
        Some(Error::KeyLength {
            key: KeyRole::HasherSecret,
            encoding: KeyEncoding::Base64,
            len: 16
        })
    ));
    let msg = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("keyed-hash secret") && msg.contains("base64") && msg.contains("16"));
    assert!(!msg.contains(&short_b64));

    assert!(matches!(
        MasterKey::from_config_text(1, "not a key, obviously!"),
        Err(Error::KeyTextNotHexOrBase64 {
            key: KeyRole::MasterKey
        })
    ));
    assert!(matches!(
        MasterKey::from_config_text(1, "   \n"),
        Err(Error::KeyTextEmpty { .. })
    ));
    assert!(matches!(
        MasterKey::from_config_text(1, &format!("hex:{}", "zz".repeat(32))),
        Err(Error::KeyTextInvalid {
            encoding: KeyEncoding::Hex,
            ..
        })
    ));
    assert!(matches!(
        MasterKey::from_config_text(1, "base64:***"),
        Err(Error::KeyTextInvalid {
            encoding: KeyEncoding::Base64,
            ..
        })
    ));
    assert!(matches!(
        MasterKey::from_config_text(1, &"a".repeat(63)),
        Err(Error::KeyTextInvalid {
            encoding: KeyEncoding::Hex,
            ..
        })
    ));
}

// ---------------------------------------------------------------- Debug hygiene

#[test]
fn debug_output_never_shows_key_material_or_personal_data() {
    let bytes = key_bytes(42);
    let mk = master(3, 42);
    let h = hasher(42);
    let dk = data_key();
    let rec = record();
    let printed = [
        format!("{mk:?}"),
        format!("{h:?}"),
        format!("{dk:?}"),
        format!("{rec:?}"),
    ];
    let secrets = [
        hex::encode(bytes),
        STANDARD.encode(bytes),
        format!("{bytes:?}"),
        format!("{:?}", dk.bytes()),
        hex::encode(dk.bytes()),
        "欧阳".to_owned(),
        "330602".to_owned(),
        "1358997".to_owned(),
    ];
    for p in &printed {
        for s in &secrets {
            assert!(!p.contains(s.as_str()), "{p} leaks {s}");
        }
    }
    assert_eq!(printed[0], "MasterKey { version: 3, key: [redacted] }");
    assert_eq!(printed[1], "KeyedHasher { secret: [redacted] }");
    assert_eq!(printed[2], "DataKey([redacted])");
    assert_eq!(
        printed[3],
        "PersonalRecord { name: [redacted], id_number: Some(\"[redacted]\"), phone: Some(\"[redacted]\") }"
    );
}

// ---------------------------------------------------------------- data keys and wrapping

#[test]
fn generated_data_keys_differ() {
    assert_ne!(data_key().bytes(), data_key().bytes());
}

#[test]
fn wrapped_key_round_trips_through_bytes_and_opens_what_the_original_sealed() {
    let mk = master(5, 1);
    let dk = data_key();
    let value = sealed(&dk, "张三".as_bytes());
    let Ok(wrapped) = mk.wrap_data_key(SUBJECT, &dk) else {
        panic!("wrap")
    };
    let stored = wrapped.to_bytes();
    assert_eq!(stored.len(), WRAPPED_KEY_LEN);
    assert_eq!(stored.len(), 62);
    assert_eq!(stored[0], WRAPPED_KEY_FORMAT);
    assert_eq!(stored[1], 5);
    assert!(
        !stored.windows(32).any(|w| w == dk.bytes()),
        "data key in clear"
    );
    let Ok(reloaded) = WrappedDataKey::from_bytes(&stored) else {
        panic!("from_bytes")
    };
    assert_eq!(reloaded, wrapped);
    assert_eq!(reloaded.master_key_version(), 5);
    let Ok(unwrapped) = mk.unwrap_data_key(SUBJECT, &reloaded) else {
        panic!("unwrap")
    };
    let opened = open(&unwrapped, SUBJECT, PURPOSE, &value);
    assert!(matches!(opened, Ok(p) if p.as_slice() == "张三".as_bytes()));
}

#[test]
fn wrapped_key_cannot_be_unwrapped_for_another_subject() {
    let mk = master(1, 1);
    let Ok(wrapped) = mk.wrap_data_key(SUBJECT, &data_key()) else {
        panic!("wrap")
    };
    assert!(matches!(
        mk.unwrap_data_key(OTHER_SUBJECT, &wrapped),
        Err(Error::Unwrap)
    ));
    assert!(mk.unwrap_data_key(SUBJECT, &wrapped).is_ok());
}

#[test]
fn wrapped_key_cannot_be_unwrapped_with_another_master_key_of_the_same_version() {
    let Ok(wrapped) = master(1, 1).wrap_data_key(SUBJECT, &data_key()) else {
        panic!("wrap")
    };
    assert!(matches!(
        master(1, 2).unwrap_data_key(SUBJECT, &wrapped),
        Err(Error::Unwrap)
    ));
}

#[test]
fn wrapped_key_names_its_master_key_version_and_refuses_another_version() {
    let Ok(wrapped) = master(1, 1).wrap_data_key(SUBJECT, &data_key()) else {
        panic!("wrap")
    };
    assert!(matches!(
        master(2, 1).unwrap_data_key(SUBJECT, &wrapped),
        Err(Error::MasterKeyVersion {
            wrapped_with: 1,
            offered: 2
        })
    ));
}

#[test]
fn altered_wrapped_key_fails_including_its_version_byte() {
    let mk = master(1, 1);
    let Ok(wrapped) = mk.wrap_data_key(SUBJECT, &data_key()) else {
        panic!("wrap")
    };
    let bytes = wrapped.to_bytes();
    // The version byte is bound into the associated data: relabelled as version 2 and offered the same
    // key bytes under version 2, it still fails.
    let mut relabelled = bytes.clone();
    relabelled[1] = 2;
    let Ok(relabelled) = WrappedDataKey::from_bytes(&relabelled) else {
        panic!("from_bytes")
    };
    assert!(matches!(
        master(2, 1).unwrap_data_key(SUBJECT, &relabelled),
        Err(Error::Unwrap)
    ));
    for i in 2..bytes.len() {
        let mut altered = bytes.clone();
        altered[i] ^= 0x01;
        let Ok(altered) = WrappedDataKey::from_bytes(&altered) else {
            panic!("from_bytes")
        };
        assert!(
            matches!(mk.unwrap_data_key(SUBJECT, &altered), Err(Error::Unwrap)),
            "byte {i}"
        );
    }
}

#[test]
fn wrapped_key_bytes_reject_wrong_length_and_unknown_format() {
    let Ok(wrapped) = master(1, 1).wrap_data_key(SUBJECT, &data_key()) else {
        panic!("wrap")
    };
    let bytes = wrapped.to_bytes();
    assert!(matches!(
        WrappedDataKey::from_bytes(&bytes[..61]),
        Err(Error::WrappedKeyLength {
            len: 61,
            expected: 62
        })
    ));
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        WrappedDataKey::from_bytes(&longer),
        Err(Error::WrappedKeyLength { len: 63, .. })
    ));
    let mut other_format = bytes;
    other_format[0] = 2;
    assert!(matches!(
        WrappedDataKey::from_bytes(&other_format),
        Err(Error::WrappedKeyFormat { version: 2 })
    ));
}

// ---------------------------------------------------------------- sealing

#[test]
fn seal_then_open_returns_the_plaintext() {
    let dk = data_key();
    for plaintext in [&b""[..], "张三 13589971234".as_bytes(), &[0u8, 255, 1, 254]] {
        let value = sealed(&dk, plaintext);
        let opened = open(&dk, SUBJECT, PURPOSE, &value);
        assert!(matches!(opened, Ok(p) if p.as_slice() == plaintext));
    }
}

#[test]
fn open_with_another_subject_fails() {
    let dk = data_key();
    let value = sealed(&dk, b"secret");
    assert!(matches!(
        open(&dk, OTHER_SUBJECT, PURPOSE, &value),
        Err(Error::Open)
    ));
}

#[test]
fn open_with_another_purpose_fails() {
    let dk = data_key();
    let value = sealed(&dk, b"secret");
    assert!(matches!(
        open(&dk, SUBJECT, "volunteer.certificate", &value),
        Err(Error::Open)
    ));
}

#[test]
fn open_with_another_data_key_fails() {
    let value = sealed(&data_key(), b"secret");
    assert!(matches!(
        open(&data_key(), SUBJECT, PURPOSE, &value),
        Err(Error::Open)
    ));
}

#[test]
fn subject_and_purpose_boundaries_cannot_be_shifted() {
    let dk = data_key();
    let Ok(value) = seal(&dk, "volunteer-ab", "c", b"x") else {
        panic!("seal")
    };
    assert!(matches!(
        open(&dk, "volunteer-a", "bc", &value),
        Err(Error::Open)
    ));
}

#[test]
fn tampering_with_any_byte_of_a_sealed_value_makes_it_fail() {
    let dk = data_key();
    let value = sealed(&dk, "欧阳娜娜".as_bytes());
    let text = value.to_string();
    let Some(body) = text.strip_prefix(SEALED_PREFIX) else {
        panic!("prefix")
    };
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(body) else {
        panic!("decode")
    };
    for i in 0..bytes.len() {
        let mut altered = bytes.clone();
        altered[i] ^= 0x80;
        let altered = format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(&altered));
        let Ok(altered) = SealedValue::parse(&altered) else {
            panic!("parse")
        };
        assert!(
            matches!(open(&dk, SUBJECT, PURPOSE, &altered), Err(Error::Open)),
            "byte {i}"
        );
    }
    // Truncated by one byte (a tag byte missing) also fails.
    let truncated = format!(
        "{SEALED_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() - 1])
    );
    let Ok(truncated) = SealedValue::parse(&truncated) else {
        panic!("parse")
    };
    assert!(matches!(
        open(&dk, SUBJECT, PURPOSE, &truncated),
        Err(Error::Open)
    ));
}

#[test]
fn equal_plaintexts_get_different_nonces_and_ciphertexts() {
    let dk = data_key();
    let a = sealed(&dk, b"same").to_string();
    let b = sealed(&dk, b"same").to_string();
    assert_ne!(a, b);
    let nonce = |t: &str| {
        t.strip_prefix(SEALED_PREFIX)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .map(|b| b[..12].to_vec())
    };
    assert!(nonce(&a).is_some());
    assert_ne!(nonce(&a), nonce(&b));
}

#[test]
fn empty_subject_or_purpose_is_refused() {
    let dk = data_key();
    assert!(matches!(
        seal(&dk, "", PURPOSE, b"x"),
        Err(Error::EmptyContext { what: "subject" })
    ));
    assert!(matches!(
        seal(&dk, SUBJECT, "", b"x"),
        Err(Error::EmptyContext { what: "purpose" })
    ));
    assert!(matches!(
        master(1, 1).wrap_data_key("", &dk),
        Err(Error::EmptyContext { what: "subject" })
    ));
}

// ---------------------------------------------------------------- text form

#[test]
fn sealed_text_form_round_trips_exactly() {
    let dk = data_key();
    let value = sealed(&dk, "张三".as_bytes());
    let text = value.to_string();
    assert!(text.starts_with("pd1."));
    assert!(!text.contains(['=', '+', '/']));
    // 12-byte nonce + 6 bytes of UTF-8 + 16-byte tag = 34 bytes = 46 base64url characters.
    assert_eq!(text.len(), 4 + 46);
    let Ok(parsed) = SealedValue::parse(&text) else {
        panic!("parse")
    };
    assert_eq!(parsed, value);
    assert_eq!(parsed.to_string(), text);
    assert_eq!(String::from(parsed.clone()), text);
    assert_eq!(text.parse::<SealedValue>().ok(), Some(value));
    assert!(
        matches!(open(&dk, SUBJECT, PURPOSE, &parsed), Ok(p) if p.as_slice() == "张三".as_bytes())
    );
}

#[test]
fn sealed_text_parse_errors_are_specific_and_do_not_echo_the_input() {
    let prefix_errors = [
        "",
        "pd1",
        "PD1.AAAA",
        "pd.AAAA",
        "pd01.AAAA",
        "sealed:person",
        "v1.k1.abc",
        "张三",
    ];
    for text in prefix_errors {
        assert!(
            matches!(SealedValue::parse(text), Err(Error::SealedPrefix)),
            "{text}"
        );
    }
    assert!(matches!(
        SealedValue::parse("pd2.AAAA"),
        Err(Error::SealedVersion { version: 2 })
    ));
    let valid_body = URL_SAFE_NO_PAD.encode([0u8; 30]);
    for text in [
        format!("pd1.{valid_body}="),
        format!("pd1.{}", STANDARD.encode([0xfb_u8; 30])),
        "pd1.AAAA AAAA".to_owned(),
        "pd1.张三李四".to_owned(),
        // 29 characters leave 5 bits, a non-canonical trailing group.
        format!("pd1.{}B", URL_SAFE_NO_PAD.encode([0u8; 27])),
    ] {
        assert!(
            matches!(SealedValue::parse(&text), Err(Error::SealedEncoding)),
            "{text}"
        );
    }
    assert!(matches!(
        SealedValue::parse("pd1."),
        Err(Error::SealedLength { len: 0, min: 28 })
    ));
    let short = format!("pd1.{}", URL_SAFE_NO_PAD.encode([0u8; 27]));
    assert!(matches!(
        SealedValue::parse(&short),
        Err(Error::SealedLength { len: 27, min: 28 })
    ));
    let minimal = format!("pd1.{}", URL_SAFE_NO_PAD.encode([0u8; 28]));
    assert!(SealedValue::parse(&minimal).is_ok());

    let leaky = "pd1.张三-330602198001011234";
    let msg = SealedValue::parse(leaky)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(!msg.is_empty());
    assert!(!msg.contains("张三") && !msg.contains("330602"));
}

#[test]
fn sealed_value_deserialises_from_its_text_and_rejects_bad_text() {
    use serde::Deserialize as _;
    use serde::de::IntoDeserializer as _;
    use serde::de::value::{Error as DeError, StrDeserializer};

    let value = sealed(&data_key(), b"x");
    let text = value.to_string();
    let de: StrDeserializer<'_, DeError> = text.as_str().into_deserializer();
    assert_eq!(SealedValue::deserialize(de).ok(), Some(value));
    let de: StrDeserializer<'_, DeError> = "v1.k1.abc".into_deserializer();
    let err = SealedValue::deserialize(de).err().map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("pd1.") && !e.contains("v1.k1.abc")));
}

// ---------------------------------------------------------------- personal records

#[test]
fn personal_record_round_trips_sealed_with_and_without_optional_fields() {
    let dk = data_key();
    let sparse = PersonalRecord {
        name: "李".to_owned(),
        id_number: None,
        phone: None,
    };
    for rec in [record(), sparse] {
        let Ok(value) = seal_record(&dk, SUBJECT, PURPOSE, &rec) else {
            panic!("seal_record")
        };
        let opened = open_record(&dk, SUBJECT, PURPOSE, &value);
        assert!(matches!(opened, Ok(r) if r == rec));
    }
}

#[test]
fn personal_record_encoding_is_the_documented_layout() {
    let rec = PersonalRecord {
        name: "张三".to_owned(),
        id_number: None,
        phone: Some("123".to_owned()),
    };
    let Ok(encoded) = rec.encode() else {
        panic!("encode")
    };
    let mut expected = vec![1, 0, 0, 0, 6];
    expected.extend_from_slice("张三".as_bytes());
    expected.extend_from_slice(&[0, 1, 0, 0, 0, 3]);
    expected.extend_from_slice(b"123");
    assert_eq!(encoded.as_slice(), expected.as_slice());
    assert_eq!(encoded.capacity(), encoded.len());
}

#[test]
fn personal_record_decoding_rejects_malformed_encodings() {
    let Ok(good) = record().encode() else {
        panic!("encode")
    };
    let decode = |b: &[u8]| PersonalRecord::decode(b).err();
    let is = |e: Option<Error>, p: RecordProblem| matches!(e, Some(Error::Record(q)) if q == p);

    let mut trailing = good.to_vec();
    trailing.push(0);
    assert!(is(decode(&trailing), RecordProblem::TrailingBytes));
    for cut in [0, 1, 4, 6, good.len() - 1] {
        assert!(
            is(decode(&good[..cut]), RecordProblem::Truncated),
            "cut {cut}"
        );
    }
    let mut version = good.to_vec();
    version[0] = 2;
    assert!(is(decode(&version), RecordProblem::UnsupportedVersion(2)));
    assert!(is(
        decode(&[1, 0, 0, 0, 0, 2, 0]),
        RecordProblem::BadPresenceTag(2)
    ));
    assert!(is(
        decode(&[1, 0, 0, 0, 2, 0xff, 0xfe, 0, 0]),
        RecordProblem::NotUtf8
    ));
    assert!(decode(&[1, 0, 0, 0, 0, 0, 0]).is_none());
}

#[test]
fn sealed_record_cannot_be_opened_as_another_field_or_person() {
    let dk = data_key();
    let Ok(value) = seal_record(&dk, SUBJECT, PURPOSE, &record()) else {
        panic!("seal_record")
    };
    assert!(matches!(
        open_record(&dk, SUBJECT, "volunteer.certificate", &value),
        Err(Error::Open)
    ));
    assert!(matches!(
        open_record(&dk, OTHER_SUBJECT, PURPOSE, &value),
        Err(Error::Open)
    ));
}

// ---------------------------------------------------------------- keyed hashes

#[test]
fn hmac_sha256_matches_rfc4231_test_cases_1_and_2() {
    // RFC 4231 §4.2, test case 1.
    assert_eq!(
        hex::encode(hmac_sha256(&[0x0b; 20], b"Hi There")),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
    // RFC 4231 §4.3, test case 2.
    assert_eq!(
        hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn dedup_key_is_stable_for_one_secret_and_differs_across_secrets_and_numbers() {
    let id = "33060219800101123X";
    let a = hasher(1);
    assert_eq!(a.dedup_key(id), a.dedup_key(id));
    assert_eq!(a.dedup_key(id), hasher(1).dedup_key(id));
    assert_ne!(a.dedup_key(id), hasher(2).dedup_key(id));
    assert_ne!(a.dedup_key(id), a.dedup_key("330602198001011231"));
    assert_ne!(
        a.fingerprint("cmd", b"x"),
        hasher(2).fingerprint("cmd", b"x")
    );
}

#[test]
fn different_labels_give_different_outputs_for_the_same_input() {
    let h = hasher(1);
    let id = "33060219800101123X";
    assert_ne!(
        h.dedup_key(id),
        h.fingerprint(DEDUP_ID_NUMBER_LABEL, id.as_bytes())
    );
    assert_ne!(
        h.fingerprint("RegisterVolunteer", b"{}"),
        h.fingerprint("RegisterTeam", b"{}")
    );
    // Label/input boundaries are framed: moving a byte across them changes the output.
    assert_ne!(h.fingerprint("ab", b"c"), h.fingerprint("a", b"bc"));
    // And the output is not the plain HMAC of the input.
    let mut secret = [0u8; 32];
    secret.copy_from_slice(&key_bytes(1));
    assert_ne!(h.dedup_key(id), hmac_sha256(&secret, id.as_bytes()));
}

#[test]
fn hasher_secret_must_differ_from_the_master_key() {
    assert!(matches!(
        hasher(9).ensure_distinct_from(&master(1, 9)),
        Err(Error::SecretsNotDistinct)
    ));
    assert!(hasher(9).ensure_distinct_from(&master(1, 10)).is_ok());
}

// ---------------------------------------------------------------- masking

#[test]
fn mask_name_keeps_the_first_character_and_stars_the_rest() {
    assert_eq!(mask_name("张三"), "张*");
    assert_eq!(mask_name("欧阳娜娜"), "欧***");
    assert_eq!(mask_name("李"), "*");
    assert_eq!(mask_name(""), "");
    assert_eq!(mask_name("阿卜杜·热合曼"), "阿******");
    assert_eq!(mask_name("Anna"), "A***");
}

#[test]
fn mask_phone_shows_first_seven_of_a_mobile_else_three_and_two() {
    assert_eq!(mask_phone("13589971234"), "1358997****");
    assert_eq!(mask_phone("0571888888"), "057*****88");
    assert_eq!(mask_phone("05718888888"), "057******88");
    assert_eq!(mask_phone("123456"), "123*56");
    assert_eq!(mask_phone("12345"), "*****");
    assert_eq!(mask_phone(""), "");
    assert_eq!(mask_phone("电话一二三四五"), "电话一**四五");
}

#[test]
fn mask_id_number_shows_first_six_and_last_four() {
    assert_eq!(mask_id_number("33060219800101123X"), "330602********123X");
    assert_eq!(mask_id_number("330602800101123"), "330602*****1123");
    assert_eq!(mask_id_number("E12345678"), "E1*****78");
    assert_eq!(mask_id_number("12345"), "*****");
    assert_eq!(mask_id_number(""), "");
}
