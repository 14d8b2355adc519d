//! An object's byte stream as a blocking `Read`, for code that streams it
//! through synchronous decoders (gzip, tar) on a blocking thread.

use std::io::Read;

use bytes::Bytes;

/// Reads an [`ObjectBody`](crate::ObjectBody) from a blocking thread; a task on `runtime` pulls
/// the chunks, a few at a time, so memory stays bounded.
pub struct BlockingReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl BlockingReader {
    /// Call from outside the runtime's worker threads (e.g. spawn_blocking).
    pub fn new(body: crate::ObjectBody, runtime: &tokio::runtime::Handle) -> BlockingReader {
        let mut body = body.0;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(8);
        runtime.spawn(async move {
            loop {
                let message = match body.try_next().await {
                    Ok(Some(bytes)) => Ok(bytes),
                    Ok(None) => break,
                    Err(e) => Err(e.to_string()),
                };
                let stop = message.is_err();
                if tx.send(message).await.is_err() || stop {
                    break;
                }
            }
        });
        BlockingReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for BlockingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(std::io::Error::other(format!("download interrupted: {e}"))),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}
