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

    /// Writes the whole body to `out` as it arrives, in bounded memory,
    /// and checks it is exactly `size` bytes (the length its headers
    /// gave): more is refused as soon as it arrives, less at the end.
    pub async fn write_exactly(mut self, out: &mut impl std::io::Write, size: u64) -> Result<(), BodyError> {
        let mut got = 0u64;
        while let Some(chunk) = self.next_chunk().await {
            let chunk = chunk.map_err(BodyError::Read)?;
            got += chunk.len() as u64;
            if got > size {
                return Err(BodyError::TooLong { size });
            }
            out.write_all(&chunk).map_err(BodyError::Write)?;
        }
        if got != size {
            return Err(BodyError::TooShort { got, size });
        }
        Ok(())
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

/// Why [`ObjectBody::write_exactly`] stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// Reading the body failed (the connection dropped).
    #[error("the download failed: {0}")]
    Read(#[source] std::io::Error),
    /// Writing it failed.
    #[error("writing it failed: {0}")]
    Write(#[source] std::io::Error),
    /// The store sent more bytes than the object's length.
    #[error("the store sent more than its {size} bytes")]
    TooLong {
        /// The object's length.
        size: u64,
    },
    /// The body ended early.
    #[error("the download ended after {got} of {size} bytes")]
    TooShort {
        /// Bytes received.
        got: u64,
        /// The object's length.
        size: u64,
    },
}
