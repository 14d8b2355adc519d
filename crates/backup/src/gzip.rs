//! gzip on every core: the tar stream is cut into 2 MiB chunks, each
//! compressed on a worker thread as a gzip member of its own, and the
//! members are written in order. Concatenated members are one valid gzip
//! file (RFC 1952; `gzip -d`, `tar xzf`, Python and flate2's
//! `MultiGzDecoder` read them whole), as `pigz` writes them. Memory is
//! bounded: at most two chunks per worker are in flight.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::Compression;

const CHUNK: usize = 2 * 1024 * 1024;

type Job = (Vec<u8>, SyncSender<Vec<u8>>);

/// A writer that gzips what it is given with `workers` threads.
pub(crate) struct ParallelGz<W: Write> {
    inner: W,
    level: Compression,
    chunk: Vec<u8>,
    jobs: Option<SyncSender<Job>>,
    pending: VecDeque<Receiver<Vec<u8>>>,
    limit: usize,
    threads: Vec<JoinHandle<()>>,
}

impl<W: Write> ParallelGz<W> {
    pub(crate) fn new(inner: W, level: Compression) -> ParallelGz<W> {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        let (tx, rx) = sync_channel::<Job>(workers);
        let rx = Arc::new(Mutex::new(rx));
        let threads = (0..workers)
            .map(|_| {
                let rx = Arc::clone(&rx);
                std::thread::spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        let Ok((data, done)) = job else { return };
                        let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 3), level);
                        // Writing to a Vec cannot fail.
                        let _ = gz.write_all(&data);
                        let _ = done.send(gz.finish().unwrap_or_default());
                    }
                })
            })
            .collect();
        ParallelGz {
            inner,
            level,
            chunk: Vec::with_capacity(CHUNK),
            jobs: Some(tx),
            pending: VecDeque::new(),
            limit: workers * 2,
            threads,
        }
    }

    fn send_chunk(&mut self) -> io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        let (done, result) = sync_channel(1);
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("gzip writer finished"))?;
        jobs.send((data, done))
            .map_err(|_| io::Error::other("a gzip worker stopped"))?;
        self.pending.push_back(result);
        while self.pending.len() > self.limit {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(next) = self.pending.pop_front() {
            let member = next.recv().map_err(|_| io::Error::other("a gzip worker stopped"))?;
            self.inner.write_all(&member)?;
        }
        Ok(())
    }

    /// Compresses what is left, writes every member in order, and returns
    /// the inner writer. An empty stream is still one (empty) gzip member.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if self.chunk.is_empty() && self.pending.is_empty() {
            let empty = flate2::write::GzEncoder::new(Vec::new(), self.level).finish()?;
            self.inner.write_all(&empty)?;
        }
        self.send_chunk()?;
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ParallelGz<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.chunk.len();
        let n = room.min(buf.len());
        self.chunk.extend_from_slice(&buf[..n]);
        if self.chunk.len() == CHUNK {
            self.send_chunk()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn roundtrip(data: &[u8]) -> Vec<u8> {
        let mut gz = ParallelGz::new(Vec::new(), Compression::new(6));
        for piece in data.chunks(777_777) {
            gz.write_all(piece).unwrap();
        }
        let packed = gz.finish().unwrap();
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&packed[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn members_in_order_make_the_stream_back() {
        let data: Vec<u8> = (0..9 * CHUNK + 12345).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(roundtrip(&data), data);
        assert_eq!(roundtrip(b"small"), b"small");
        assert_eq!(roundtrip(b""), b"");
    }
}
