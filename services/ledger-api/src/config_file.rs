//! The optional configuration file: `LEDGER_CONFIG_FILE` names an env file (`NAME=value` lines, `#`
//! comments, blank lines, values optionally in single or double quotes) whose names are the binary's
//! own environment variables (`LEDGER_HTTP_ADDR`, `DATABASE_URL`, …).
//!
//! Policy: the file is the lowest layer. A setting given as a flag or in the environment wins over the
//! file; the file only fills what neither set. Every line must be understood: an unknown name, a line
//! without `=`, or a name given twice is an error naming the file and the line — never silently
//! ignored. The file's errors name the line, never its value (the file may hold secrets); a value of
//! the wrong type is then refused by the same parser as a flag, naming the setting.

use std::ffi::OsString;
use std::path::Path;

use clap::CommandFactory;

use crate::Config;

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("LEDGER_CONFIG_FILE {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("LEDGER_CONFIG_FILE {path}, line {line}: {reason}")]
    Line {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("{0}")]
    Parse(#[from] clap::Error),
}

fn truthy(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

fn unquote(value: &str) -> &str {
    let v = value.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// The flags a configuration file adds to `args` (after the program name), given how to look a
/// variable up in the environment.
pub fn file_args(
    path: &Path,
    text: &str,
    args: &[OsString],
    env: &dyn Fn(&str) -> bool,
) -> Result<Vec<OsString>, ConfigFileError> {
    let mut command = Config::command();
    // Building fills in what each argument takes (`num_args`), which the flags below depend on.
    command.build();
    let shown = path.display().to_string();
    let line_error = |line: usize, reason: String| ConfigFileError::Line {
        path: shown.clone(),
        line,
        reason,
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((name, value)) = trimmed.split_once('=') else {
            return Err(line_error(line, "expected NAME=value".to_owned()));
        };
        let name = name.trim();
        if name == "LEDGER_CONFIG_FILE" {
            return Err(line_error(
                line,
                "a configuration file cannot name another".to_owned(),
            ));
        }
        let Some(arg) = command
            .get_arguments()
            .find(|a| a.get_env().is_some_and(|e| e == name))
        else {
            return Err(line_error(
                line,
                format!("{name:?} is not a setting of this service"),
            ));
        };
        if !seen.insert(name.to_owned()) {
            return Err(line_error(line, format!("{name} is given twice")));
        }
        let Some(long) = arg.get_long() else {
            return Err(line_error(
                line,
                format!("{name} cannot be set from a file"),
            ));
        };
        let flag = format!("--{long}");
        let on_command_line = args.iter().any(|a| {
            a.to_str()
                .is_some_and(|a| a == flag || a.starts_with(&format!("{flag}=")))
        });
        if env(name) || on_command_line {
            continue;
        }
        let value = unquote(value);
        if arg.get_num_args().is_some_and(|n| n.max_values() == 0) {
            match truthy(value) {
                Some(true) => out.push(OsString::from(flag)),
                Some(false) => {}
                None => {
                    return Err(line_error(line, format!("{name} must be true or false")));
                }
            }
        } else {
            out.push(OsString::from(format!("{flag}={value}")));
        }
    }
    Ok(out)
}

/// Parse the configuration from `args` (program name first) and the environment, with the file named
/// by `LEDGER_CONFIG_FILE` (if set) underneath.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Config, ConfigFileError> {
    let args: Vec<OsString> = args.into_iter().collect();
    let Some(path) = std::env::var_os("LEDGER_CONFIG_FILE").filter(|p| !p.is_empty()) else {
        return Ok(<Config as clap::Parser>::try_parse_from(args)?);
    };
    let path = std::path::PathBuf::from(path);
    let text = std::fs::read_to_string(&path).map_err(|e| ConfigFileError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    parse_with_file(args, &path, &text, &|name| std::env::var_os(name).is_some())
}

/// [`parse`] with the file's text and the environment look-up given (what the tests use).
pub fn parse_with_file(
    args: Vec<OsString>,
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> bool,
) -> Result<Config, ConfigFileError> {
    let (program, rest) = args.split_first().map_or_else(
        || (OsString::from("ledger-api"), &[][..]),
        |(p, r)| (p.clone(), r),
    );
    let from_file = file_args(path, text, rest, env)?;
    let all = std::iter::once(program)
        .chain(from_file)
        .chain(rest.iter().cloned());
    Ok(<Config as clap::Parser>::try_parse_from(all)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    const FILE: &str = r#"
# Volunteer Ledger, city health bureau
DATABASE_URL="postgres://ledger_app@db.example/ledger"
LEDGER_HTTP_ADDR=0.0.0.0:9090
LEDGER_READ_WAIT_MS = 1500
LEDGER_DEMO=true
LEDGER_PROJECTORS='follow'
LEDGER_MASTER_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
LEDGER_HASH_KEY=f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f
"#;

    #[test]
    fn a_config_file_fills_the_settings_neither_flags_nor_the_environment_set() {
        let c = parse_with_file(
            args(&["ledger-api", "--read-wait-ms", "700"]),
            Path::new("ledger.env"),
            FILE,
            &|name| name == "LEDGER_HTTP_ADDR",
        );
        let c = match c {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(c.database_url, "postgres://ledger_app@db.example/ledger");
        assert_eq!(c.read_wait_ms, 700, "the flag wins over the file");
        assert!(c.demo);
        assert_eq!(c.projectors, crate::ProjectorMode::Follow);
        // LEDGER_HTTP_ADDR is "set in the environment" here, so the file's value is not used (the real
        // environment of the test has none: the default applies).
        assert_ne!(c.http_addr.port(), 9090);
    }

    #[test]
    fn every_bad_line_is_named_with_the_file_and_its_number() {
        for (text, line, needle) in [
            ("LEDGER_NOPE=1\n", 1, "LEDGER_NOPE"),
            ("\n# c\nLEDGER_DEMO\n", 3, "expected NAME=value"),
            ("LEDGER_DEMO=true\nLEDGER_DEMO=false\n", 2, "given twice"),
            ("LEDGER_DEMO=maybe\n", 1, "true or false"),
            ("LEDGER_CONFIG_FILE=/etc/x\n", 1, "another"),
        ] {
            let err = file_args(Path::new("ledger.env"), text, &[], &|_| false).unwrap_err();
            let shown = err.to_string();
            assert!(
                shown.starts_with(&format!("LEDGER_CONFIG_FILE ledger.env, line {line}:")),
                "{shown}"
            );
            assert!(shown.contains(needle), "{shown}");
        }
    }
}
