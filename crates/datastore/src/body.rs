//! An object's bytes as they arrive: [`ObjectBody`], this crate's own type
//! (the SDK's stream stays inside), read as a whole, chunk by chunk, or as
//! a blocking `Read` ([`crate::BlockingReader`]).

use bytes::Bytes;

/// The body of an object being read (from [`crate::Store::get`]). A
/// connection that drops mid-body shows up as an error from the read.
#[derive(Debug)]
pub struct ObjectBody(pub(crate) aws_sdk_s3::primitives::ByteStream);

impl ObjectBody {
    /// The next chunk of bytes; None at the end.
    pub async fn next_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        self.0
            .try_next()
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .transpose()
    }

    /// Every byte, in memory: for small objects.
    pub async fn collect(self) -> std::io::Result<Bytes> {
        self.0
            .collect()
            .await
            .map(|b| b.into_bytes())
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}
