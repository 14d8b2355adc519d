//! The ETag S3 gives an object we upload, computed from its bytes, so an
//! object already in the bucket can be compared with the archive's file
//! without downloading it: MD5 for a single PUT, MD5 of the part MD5s plus
//! `-N` for a multipart upload with our part size.

use md5::{Digest, Md5};

/// Computes an object's ETag from its bytes, fed in order: the one a
/// single PUT gets when the object is at most one part, else the one a
/// multipart upload in parts of the given size gets. Pass
/// [`PART_SIZE`](crate::PART_SIZE) for objects the tools upload.
pub struct EtagHasher {
    part_size: usize,
    multipart: bool,
    whole: Md5,
    part: Md5,
    part_len: usize,
    digests: Vec<u8>,
    parts: usize,
}

impl EtagHasher {
    /// For an object of `size` bytes uploaded with `part_size` parts.
    pub fn new(size: u64, part_size: usize) -> EtagHasher {
        EtagHasher {
            part_size,
            multipart: size > part_size as u64,
            whole: Md5::new(),
            part: Md5::new(),
            part_len: 0,
            digests: Vec::new(),
            parts: 0,
        }
    }

    /// Feeds the next bytes of the object. The size given to `new`, not
    /// the bytes fed, decides between the single and the multipart form.
    pub fn update(&mut self, mut data: &[u8]) {
        if !self.multipart {
            self.whole.update(data);
            return;
        }
        while !data.is_empty() {
            let take = (self.part_size - self.part_len).min(data.len());
            self.part.update(&data[..take]);
            self.part_len += take;
            data = &data[take..];
            if self.part_len == self.part_size {
                self.close_part();
            }
        }
    }

    fn close_part(&mut self) {
        let digest = std::mem::take(&mut self.part).finalize();
        self.digests.extend_from_slice(&digest);
        self.parts += 1;
        self.part_len = 0;
    }

    /// The ETag, without quotes: the MD5 in lower-case hex for a single
    /// PUT; for a multipart upload, the MD5 of the part MD5s, then `-`
    /// and the number of parts.
    pub fn finish(mut self) -> String {
        if !self.multipart {
            return hex(&self.whole.finalize());
        }
        if self.part_len > 0 {
            self.close_part();
        }
        format!("{}-{}", hex(&Md5::digest(&self.digests)), self.parts)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_put_etag_is_the_md5() {
        let mut h = EtagHasher::new(3, 8);
        h.update(b"abc");
        assert_eq!(h.finish(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(EtagHasher::new(0, 8).finish(), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn multipart_etag_is_md5_of_part_md5s() {
        let data = b"0123456789abcdefXYZ";
        let mut h = EtagHasher::new(data.len() as u64, 8);
        h.update(&data[..5]);
        h.update(&data[5..]);
        let mut digests = Vec::new();
        for chunk in data.chunks(8) {
            digests.extend_from_slice(&Md5::digest(chunk));
        }
        assert_eq!(h.finish(), format!("{}-3", hex(&Md5::digest(&digests))));
    }
}
