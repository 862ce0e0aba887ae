//! A blocking client of the OCI distribution API (`/v2/`): what push and pull need of it
//! (blobs: exists, upload, download; manifests: put, get) and its auth, done the way the
//! ecosystem's clients do it: try anonymously, and on `401` answer the challenge (basic, or
//! a bearer token from the realm the registry names), then retry once.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use ureq::http::{Method, Request, Response};
use ureq::Body;

use crate::auth::{Challenge, Credentials};
use crate::digest;
use crate::reference::Reference;

/// How a registry is reached.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// HTTP instead of HTTPS (a registry on loopback or a lab network, as `--plain-http`
    /// of oras and `--tls-verify=false` of skopeo allow).
    pub plain_http: bool,
    /// Credentials; without them the auth files are looked up.
    pub credentials: Option<Credentials>,
}

/// Manifests and indexes are small; a registry answering with more is refused.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// One registry host, with the auth it has negotiated so far.
pub struct Registry {
    agent: ureq::Agent,
    base: String,
    host: String,
    credentials: Option<Credentials>,
    authorization: Option<String>,
}

impl Registry {
    /// The registry `reference` names.
    pub fn new(reference: &Reference, options: &Options) -> Result<Registry> {
        let host = reference.registry();
        let credentials = match &options.credentials {
            Some(c) => Some(c.clone()),
            None => Credentials::from_auth_files(reference.registry())?,
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .timeout_connect(Some(Duration::from_secs(20)))
            .build()
            .into();
        let scheme = if options.plain_http { "http" } else { "https" };
        Ok(Registry {
            agent,
            base: format!("{scheme}://{host}"),
            host: host.to_string(),
            credentials,
            authorization: None,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// True if the repository holds the blob (so a push can skip it).
    pub fn blob_exists(&mut self, repo: &str, digest: &str) -> Result<bool> {
        let url = format!("{}/v2/{repo}/blobs/{digest}", self.base);
        let resp = self.send(Method::HEAD, &url, &[], None)?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(status_error(resp, &format!("checking blob {digest}"))),
        }
    }

    /// Uploads a blob in one request (POST for an upload session, PUT with the digest).
    pub fn push_blob(&mut self, repo: &str, digest: &str, bytes: &[u8]) -> Result<()> {
        if self.blob_exists(repo, digest)? {
            log::debug!("{repo}: blob {digest} already there");
            return Ok(());
        }
        let url = format!("{}/v2/{repo}/blobs/uploads/", self.base);
        let resp = self.send(Method::POST, &url, &[], Some(&[]))?;
        if resp.status().as_u16() != 202 {
            return Err(status_error(
                resp,
                &format!("starting the upload of {digest}"),
            ));
        }
        let location = header(&resp, "location")
            .ok_or_else(|| anyhow!("{}: upload started without a Location", self.host))?;
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={digest}");
        let resp = self.send(
            Method::PUT,
            &url,
            &[("content-type", "application/octet-stream")],
            Some(bytes),
        )?;
        if resp.status().as_u16() != 201 {
            return Err(status_error(resp, &format!("uploading blob {digest}")));
        }
        log::debug!("{repo}: pushed blob {digest} ({} bytes)", bytes.len());
        Ok(())
    }

    /// Downloads a blob of the `size` its descriptor states (refused above `limit`) and
    /// checks its digest before returning it.
    pub fn pull_blob(
        &mut self,
        repo: &str,
        digest: &str,
        size: u64,
        limit: u64,
    ) -> Result<Vec<u8>> {
        if size > limit {
            bail!("blob {digest} is {size} bytes, over the limit of {limit}: refused");
        }
        let url = format!("{}/v2/{repo}/blobs/{digest}", self.base);
        let mut resp = self.send(Method::GET, &url, &[], None)?;
        if resp.status().as_u16() != 200 {
            return Err(status_error(resp, &format!("fetching blob {digest}")));
        }
        let bytes = read_limited(&mut resp, size, &format!("blob {digest}"))?;
        if bytes.len() as u64 != size {
            bail!(
                "blob {digest}: {} bytes received, its descriptor says {size}: refused",
                bytes.len()
            );
        }
        digest::check(digest, &bytes, &format!("blob {digest}"))?;
        Ok(bytes)
    }

    /// Puts a manifest or index under `reference` (a tag or its digest); returns its digest.
    pub fn push_manifest(
        &mut self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String> {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let resp = self.send(
            Method::PUT,
            &url,
            &[("content-type", media_type)],
            Some(bytes),
        )?;
        if resp.status().as_u16() != 201 {
            return Err(status_error(
                resp,
                &format!("putting manifest {repo}:{reference}"),
            ));
        }
        let digest = digest::sha256(bytes);
        if let Some(said) = header(&resp, "docker-content-digest") {
            if said != digest {
                bail!("{}: stored manifest as {said}, we sent {digest}", self.host);
            }
        }
        Ok(digest)
    }

    /// Gets a manifest or index; returns its media type, bytes and digest. Fetched by
    /// digest, the bytes are checked against it; by tag, the digest is computed here.
    pub fn pull_manifest(
        &mut self,
        repo: &str,
        reference: &str,
        accept: &[&str],
    ) -> Result<(String, Vec<u8>, String)> {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let accept = accept.join(", ");
        let mut resp = self.send(Method::GET, &url, &[("accept", &accept)], None)?;
        match resp.status().as_u16() {
            200 => {}
            404 => bail!("{}/{repo}:{reference}: no such manifest", self.host),
            _ => return Err(status_error(resp, &format!("fetching {repo}:{reference}"))),
        }
        let media_type = header(&resp, "content-type").unwrap_or_default();
        let what = format!("manifest {repo}@{reference}");
        let bytes = read_limited(&mut resp, MAX_MANIFEST_BYTES, &what)?;
        let digest = digest::sha256(&bytes);
        if reference.contains(':') {
            digest::check(reference, &bytes, &what)?;
        }
        Ok((media_type, bytes, digest))
    }

    /// One request, answering an auth challenge once.
    fn send(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response<Body>> {
        let resp = self.send_once(method.clone(), url, headers, body)?;
        if resp.status().as_u16() != 401 {
            return Ok(resp);
        }
        let challenge = header(&resp, "www-authenticate").unwrap_or_default();
        self.authorize(&challenge)?;
        let resp = self.send_once(method, url, headers, body)?;
        if resp.status().as_u16() == 401 {
            bail!(
                "{}: authentication failed{}",
                self.host,
                if self.credentials.is_none() {
                    " (no credentials: give --creds USER:PASSWORD or log in with skopeo/docker)"
                } else {
                    ""
                }
            );
        }
        Ok(resp)
    }

    fn send_once(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response<Body>> {
        let mut req = Request::builder().method(method.clone()).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(auth) = &self.authorization {
            req = req.header("authorization", auth);
        }
        let result = match body {
            Some(body) => self.agent.run(req.body(body)?),
            None => self.agent.run(req.body(())?),
        };
        result.with_context(|| format!("{method} {url}"))
    }

    /// Sets the `Authorization` to send from a `WWW-Authenticate` challenge.
    fn authorize(&mut self, header: &str) -> Result<()> {
        let challenge = Challenge::parse(header)
            .ok_or_else(|| anyhow!("{}: unreadable auth challenge {header:?}", self.host))?;
        match challenge.scheme.as_str() {
            "basic" => {
                let creds = self.credentials.as_ref().ok_or_else(|| {
                    anyhow!(
                        "{}: the registry wants a login (give --creds USER:PASSWORD or log in with skopeo/docker)",
                        self.host
                    )
                })?;
                self.authorization = Some(creds.basic());
            }
            "bearer" => {
                let token = self.token(&challenge)?;
                self.authorization = Some(format!("Bearer {token}"));
            }
            other => bail!("{}: unsupported auth scheme {other:?}", self.host),
        }
        Ok(())
    }

    /// The distribution token flow: GET the realm with service and scope (with basic auth
    /// when there are credentials); the answer's `token` or `access_token` is the bearer.
    fn token(&self, challenge: &Challenge) -> Result<String> {
        let realm = challenge
            .param("realm")
            .ok_or_else(|| anyhow!("{}: bearer challenge without a realm", self.host))?;
        let mut query = Vec::new();
        for key in ["service", "scope"] {
            if let Some(v) = challenge.param(key) {
                query.push(format!("{key}={}", percent_encode(v)));
            }
        }
        let sep = if realm.contains('?') { '&' } else { '?' };
        let url = if query.is_empty() {
            realm.to_string()
        } else {
            format!("{realm}{sep}{}", query.join("&"))
        };
        let mut req = Request::builder().method(Method::GET).uri(&url);
        if let Some(creds) = &self.credentials {
            req = req.header("authorization", creds.basic());
        }
        let mut resp = self
            .agent
            .run(req.body(())?)
            .with_context(|| format!("token request to {realm}"))?;
        if resp.status().as_u16() != 200 {
            return Err(status_error(resp, &format!("token request to {realm}")));
        }
        let body = read_limited(&mut resp, 1 << 20, "token")?;
        let json: serde_json::Value =
            serde_json::from_slice(&body).context("token answer is not JSON")?;
        json.get("token")
            .or_else(|| json.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .ok_or_else(|| anyhow!("token answer from {realm} holds no token"))
    }
}

fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Reads at most `limit` bytes of a body: a registry sending more is refused, not buffered.
fn read_limited(resp: &mut Response<Body>, limit: u64, what: &str) -> Result<Vec<u8>> {
    resp.body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .with_context(|| format!("reading {what} (at most {limit} bytes)"))
}

/// An error naming the status and the registry's own error message (the spec's JSON
/// `{"errors":[{"code","message"}]}`) when it sent one.
fn status_error(mut resp: Response<Body>, what: &str) -> anyhow::Error {
    let status = resp.status();
    let text = resp
        .body_mut()
        .with_config()
        .limit(64 << 10)
        .read_to_string()
        .unwrap_or_default();
    let detail = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|j| {
            j.get("errors")?.as_array().map(|errs| {
                errs.iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e.get("code").and_then(|c| c.as_str()).unwrap_or("?"),
                            e.get("message").and_then(|c| c.as_str()).unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        })
        .unwrap_or_else(|| text.trim().chars().take(200).collect());
    anyhow!("{what}: registry answered {status} {detail}")
}

/// Percent-encoding of a query value (RFC 3986 unreserved characters kept).
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            percent_encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }
}
