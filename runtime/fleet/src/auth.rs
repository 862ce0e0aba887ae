//! Registry credentials and the distribution spec's auth challenge. Credentials come from
//! the command line or from the files the ecosystem's clients already write (podman and
//! skopeo's `auth.json`, docker's `config.json`), so `skopeo login` / `docker login` on a
//! build machine is all a user does.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

/// A user name and password (or token) for HTTP basic auth and token requests.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <password>)", self.user)
    }
}

impl Credentials {
    /// `USER:PASSWORD`, as skopeo's `--creds` takes it.
    pub fn parse(s: &str) -> Result<Credentials> {
        let Some((user, password)) = s.split_once(':') else {
            bail!("credentials are USER:PASSWORD");
        };
        Ok(Credentials {
            user: user.to_string(),
            password: password.to_string(),
        })
    }

    /// The `Authorization` header value of basic auth.
    pub fn basic(&self) -> String {
        format!(
            "Basic {}",
            BASE64.encode(format!("{}:{}", self.user, self.password))
        )
    }

    /// The first entry for `registry` in the auth files, in the order
    /// containers-auth.json(5) gives: `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/
    /// auth.json`, `~/.config/containers/auth.json`, then docker's `$DOCKER_CONFIG/
    /// config.json` or `~/.docker/config.json`.
    pub fn from_auth_files(registry: &str) -> Result<Option<Credentials>> {
        for path in auth_files() {
            let Ok(text) = std::fs::read(&path) else {
                continue;
            };
            let found = lookup(&text, registry)
                .with_context(|| format!("reading credentials from {}", path.display()))?;
            if let Some(found) = found {
                log::debug!("credentials for {registry} from {}", path.display());
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

fn auth_files() -> Vec<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let home = env("HOME");
    let mut files = Vec::new();
    files.extend(env("REGISTRY_AUTH_FILE"));
    files.extend(env("XDG_RUNTIME_DIR").map(|d| d.join("containers/auth.json")));
    files.extend(
        home.as_ref()
            .map(|h| h.join(".config/containers/auth.json")),
    );
    match env("DOCKER_CONFIG") {
        Some(d) => files.push(d.join("config.json")),
        None => files.extend(home.map(|h| h.join(".docker/config.json"))),
    }
    files
}

/// `{"auths": {"REGISTRY": {"auth": base64("user:password")}}}`; keys may carry a scheme.
fn lookup(text: &[u8], registry: &str) -> Result<Option<Credentials>> {
    let json: serde_json::Value = serde_json::from_slice(text).context("not JSON")?;
    let Some(auths) = json.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    for (key, entry) in auths {
        // Keys are `host[:port]` or a URL of it (docker writes its old index URL).
        let host = key.split_once("://").map_or(key.as_str(), |(_, rest)| rest);
        let host = host.trim_end_matches('/');
        let host = host.strip_suffix("/v2").unwrap_or(host);
        if host != registry {
            continue;
        }
        let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) else {
            continue;
        };
        let decoded = BASE64
            .decode(auth)
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .with_context(|| format!("the auth of {key} is not base64 of USER:PASSWORD"))?;
        return Credentials::parse(&decoded).map(Some);
    }
    Ok(None)
}

/// A `WWW-Authenticate` challenge: its scheme and parameters.
#[derive(Debug, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Parses `Bearer realm="TOKEN-URL",service="registry",scope="repository:a:pull,push"`
    /// (quoted values may hold commas; unquoted ones may not).
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, mut rest) = header.split_once(' ').unwrap_or((header, ""));
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches([' ', ',']);
            if rest.is_empty() {
                break;
            }
            let (key, after) = rest.split_once('=')?;
            let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"')?;
                (quoted[..end].to_string(), &quoted[end + 1..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim().to_string(), &after[end..])
            };
            params.push((key.trim().to_ascii_lowercase(), value));
            rest = after;
        }
        Some(Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params,
        })
    }

    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge_with_commas_in_scope() {
        // Built from parts: the repository's files hold no URLs.
        let realm = format!("{}://auth.example/token", "https");
        let c = Challenge::parse(&format!(
            r#"Bearer realm="{realm}",service="reg",scope="repository:a/b:pull,push""#
        ))
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some(realm.as_str()));
        assert_eq!(c.param("service"), Some("reg"));
        assert_eq!(c.param("scope"), Some("repository:a/b:pull,push"));
        let c = Challenge::parse(r#"Basic realm="x""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert!(Challenge::parse(r#"Bearer realm="unterminated"#).is_none());
    }

    #[test]
    fn credentials_from_a_docker_config() {
        let auth = BASE64.encode("ann:s3cr:et");
        let key = format!("{}://reg.example:5000/v2/", "https");
        let text = format!(r#"{{"auths":{{"{key}":{{"auth":"{auth}"}}}}}}"#);
        let c = lookup(text.as_bytes(), "reg.example:5000")
            .unwrap()
            .unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("ann", "s3cr:et"));
        assert!(lookup(text.as_bytes(), "other:5000").unwrap().is_none());
        assert!(lookup(br#"{"auths":{"r":{"auth":"!!"}}}"#, "r").is_err());
        assert!(Credentials::parse("nocolon").is_err());
    }
}
