//! Artifacts in object storage, for the shared backend: S3 and whatever else
//! the `object_store` crate reaches (GCS, Azure, a local folder), named by the
//! URL of `[storage] objects`.
//!
//! The bucket is the truth: an artifact is stored once its `PUT` (or its
//! multipart upload) is acknowledged, before the publish is answered. Each
//! process keeps a copy of what it uploaded or served in its data folder
//! (`super::blobs`: a pack or `DIR/blobs/sha256/...`, checked against the
//! digest as it arrives, within `[storage] copies_mib`) and serves ranges
//! from it without asking the bucket again: an artifact taken down by
//! another process is refused by its tombstone in the shared database before
//! any read.

use super::bridge::Bridge;
use super::error::StoreError;
use futures_util::StreamExt as _;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use shire_core::digest::HashingWriter;
use shire_core::Digest;
use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::Path;
use std::sync::Arc;
use tokio::io::AsyncWriteExt as _;

/// A bucket (or other object store) holding a node's artifacts.
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    /// What signs download URLs, when downloads are redirected.
    signer: Option<Arc<dyn object_store::signer::Signer>>,
    prefix: ObjectPath,
    bridge: Bridge,
    url: String,
    /// Bytes a fetched object may hold at most: no artifact is larger than
    /// the largest upload, so an object past it was altered in the bucket
    /// and is not copied onto the node's disk.
    max_bytes: u64,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("object storage: {e}"))
}

/// An object store error as the store's.
fn failed(e: object_store::Error) -> StoreError {
    StoreError::Backend(format!("object storage: {e}"))
}

fn from_store(e: StoreError) -> io::Error {
    io::Error::other(e.to_string())
}

impl Objects {
    /// Opens the object store at `url` (`s3://bucket/prefix`, `gs://...`,
    /// `az://...`, `file:///...`), with `options` as `object_store` names
    /// them (`aws_endpoint`, `aws_allow_http`, `aws_region`, ...). For S3,
    /// the `AWS_*` environment variables fill what the options leave out.
    pub fn open(url: &str, options: &BTreeMap<String, String>) -> Result<Objects, StoreError> {
        Self::open_with(url, options, false)
    }

    /// [`Objects::open`], with downloads redirected to signed URLs when
    /// `redirect` (refused for a store that cannot sign them).
    pub fn open_with(
        url: &str,
        options: &BTreeMap<String, String>,
        redirect: bool,
    ) -> Result<Objects, StoreError> {
        let bad = |e: &dyn std::fmt::Display| {
            StoreError::Backend(format!("the object storage {url:?} cannot be opened: {e}"))
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(&e))?;
        let mut signer: Option<Arc<dyn object_store::signer::Signer>> = None;
        let (store, prefix): (Arc<dyn ObjectStore>, ObjectPath) = if parsed.scheme() == "s3" {
            use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
            let mut builder = AmazonS3Builder::from_env().with_url(url);
            for (k, v) in options {
                let key: AmazonS3ConfigKey = k.parse().map_err(|e| bad(&e))?;
                builder = builder.with_config(key, v);
            }
            let prefix = ObjectPath::parse(parsed.path()).map_err(|e| bad(&e))?;
            let s3 = Arc::new(builder.build().map_err(|e| bad(&e))?);
            signer = Some(s3.clone());
            (s3, prefix)
        } else {
            let (store, prefix) =
                object_store::parse_url_opts(&parsed, options).map_err(|e| bad(&e))?;
            (Arc::from(store), prefix)
        };
        if !redirect {
            signer = None;
        } else if signer.is_none() {
            return Err(bad(
                &"redirected downloads need an s3:// bucket (signed URLs)",
            ));
        }
        Ok(Objects {
            store,
            signer,
            prefix,
            bridge: Bridge::start("shire-objects")?,
            url: url.to_string(),
            max_bytes: u64::MAX,
        })
    }

    /// Fetches no object larger than `max_bytes` (the node's upload limit).
    pub fn limited_to(mut self, max_bytes: u64) -> Objects {
        self.max_bytes = max_bytes;
        self
    }

    /// Whether downloads are redirected to signed URLs.
    pub fn redirects(&self) -> bool {
        self.signer.is_some()
    }

    /// The URL it was opened with (for logs and status).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn key(&self, digest: &Digest) -> ObjectPath {
        self.prefix.child("sha256").child(digest.hex())
    }

    /// Whether the artifact is in the bucket.
    pub fn exists(&self, digest: &Digest) -> io::Result<bool> {
        let (store, key) = (self.store.clone(), self.key(digest));
        self.bridge
            .block(async move {
                match store.head(&key).await {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::NotFound { .. }) => Ok(false),
                    Err(e) => Err(failed(e)),
                }
            })
            .map_err(from_store)
    }

    /// Stores a small artifact's bytes (one conditional `PUT`); whether this
    /// call stored it (`false`: a concurrent upload did first).
    pub fn put_bytes(&self, digest: &Digest, bytes: Vec<u8>) -> io::Result<bool> {
        let (store, key) = (self.store.clone(), self.key(digest));
        self.bridge
            .block(async move {
                let opts = object_store::PutOptions::from(object_store::PutMode::Create);
                match store.put_opts(&key, PutPayload::from(bytes), opts).await {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                    Err(e) => Err(failed(e)),
                }
            })
            .map_err(from_store)
    }

    /// Every artifact in the bucket with its bytes, by `blobs in URL: key` (what tests
    /// compare to show that a refused request stored nothing).
    pub fn dump(&self) -> io::Result<BTreeMap<String, Vec<u8>>> {
        let (store, prefix) = (self.store.clone(), self.prefix.clone());
        let url = self.url.clone();
        self.bridge
            .block(async move {
                let mut out = BTreeMap::new();
                let mut list = store.list(Some(&prefix));
                while let Some(meta) = list.next().await {
                    let meta = meta.map_err(failed)?;
                    let got = store.get(&meta.location).await.map_err(failed)?;
                    let bytes = got.bytes().await.map_err(failed)?;
                    out.insert(format!("blobs in {url}: {}", meta.location), bytes.to_vec());
                }
                Ok(out)
            })
            .map_err(from_store)
    }

    /// Stores a large artifact from a file, streamed as a multipart upload.
    pub fn put_file(&self, digest: &Digest, file: &Path) -> io::Result<()> {
        let (store, key) = (self.store.clone(), self.key(digest));
        let file = file.to_path_buf();
        self.bridge
            .block(async move {
                let fail = |e: &dyn std::fmt::Display| {
                    StoreError::Backend(format!("object storage upload: {e}"))
                };
                let mut source = tokio::fs::File::open(&file).await.map_err(|e| fail(&e))?;
                let mut sink = object_store::buffered::BufWriter::new(store, key);
                if let Err(e) = tokio::io::copy(&mut source, &mut sink).await {
                    let _ = sink.abort().await;
                    return Err(fail(&e));
                }
                sink.shutdown().await.map_err(|e| fail(&e))
            })
            .map_err(from_store)
    }

    /// Copies the artifact from the bucket into `dest`, through a temporary
    /// file in `tmp_dir` that must hash to `digest` before it is renamed into
    /// place. `false` when the bucket does not hold it.
    pub fn fetch(&self, digest: &Digest, tmp_dir: &Path, dest: &Path) -> io::Result<bool> {
        let (store, key) = (self.store.clone(), self.key(digest));
        let max = self.max_bytes;
        let tmp = tempfile::NamedTempFile::new_in(tmp_dir)?;
        let file = tmp.reopen()?;
        let (found, file) = self
            .bridge
            .block(async move {
                let fail = |e: &dyn std::fmt::Display| {
                    StoreError::Backend(format!("object storage download: {e}"))
                };
                let got = match store.get(&key).await {
                    Ok(got) => got,
                    Err(object_store::Error::NotFound { .. }) => return Ok((false, None)),
                    Err(e) => return Err(fail(&e)),
                };
                let mut out = HashingWriter::new(io::BufWriter::new(file));
                let mut stream = got.into_stream();
                let mut total = 0u64;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| fail(&e))?;
                    total = total.saturating_add(chunk.len() as u64);
                    if total > max {
                        return Err(fail(&format_args!(
                            "the bucket's copy of {key} is larger than any upload \
                             this node accepts ({max} bytes): it was altered, or \
                             max_upload was lowered below an artifact's size"
                        )));
                    }
                    out.write_all(&chunk).map_err(|e| fail(&e))?;
                }
                Ok((true, Some(out.finish())))
            })
            .map_err(from_store)?;
        let Some((writer, actual, _)) = file else {
            return Ok(found);
        };
        if &actual != digest {
            return Err(other(format!(
                "the bucket's copy of {digest} hashes to {actual}: it was altered"
            )));
        }
        writer
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir)?;
        }
        tmp.persist(dest).map_err(|e| e.error)?;
        Ok(true)
    }

    /// A URL the bucket signed for downloading the artifact for `expires`,
    /// when downloads are redirected (`None`: they are streamed).
    pub fn signed_url(
        &self,
        digest: &Digest,
        expires: std::time::Duration,
    ) -> io::Result<Option<String>> {
        let Some(signer) = self.signer.clone() else {
            return Ok(None);
        };
        let key = self.key(digest);
        self.bridge
            .block(async move {
                signer
                    .signed_url(reqwest::Method::GET, &key, expires)
                    .await
                    .map(|u| Some(u.to_string()))
                    .map_err(|e| StoreError::Backend(format!("object storage: signing a URL: {e}")))
            })
            .map_err(from_store)
    }

    /// Deletes the artifact from the bucket; whether it was there.
    pub fn delete(&self, digest: &Digest) -> io::Result<bool> {
        let held = self.exists(digest)?;
        let (store, key) = (self.store.clone(), self.key(digest));
        self.bridge
            .block(async move {
                match store.delete(&key).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(failed(e)),
                }
            })
            .map_err(from_store)?;
        Ok(held)
    }
}
