//! The archive reader on good, damaged and hostile archives, and on random
//! bytes (issue 13, cases 1 and 5).

use std::io::{Read, Write};

use adt_archive::{ArchiveError, Kind, Limits, Reader};
use proptest::prelude::*;

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o640);
    h.set_uid(33);
    h.set_gid(33);
    h.set_mtime(1_650_000_000);
    h.set_size(size);
    h
}

/// A tar (not compressed) with every kind of entry the tools meet.
fn sample_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(&mut header(tar::EntryType::Directory, 0), "./images/", std::io::empty())
        .unwrap();
    b.append_data(&mut header(tar::EntryType::Regular, 5), "./images/a.jpg", &b"jpeg!"[..])
        .unwrap();
    let long = format!("./images/{}.jpg", "n".repeat(300));
    b.append_data(&mut header(tar::EntryType::Regular, 3), &long, &b"abc"[..])
        .unwrap();
    b.append_link(&mut header(tar::EntryType::Symlink, 0), "./images/link", "a.jpg")
        .unwrap();
    b.append_link(&mut header(tar::EntryType::Link, 0), "./images/hard", "./images/a.jpg")
        .unwrap();
    b.append_data(&mut header(tar::EntryType::Continuous, 2), "./images/seven", &b"77"[..])
        .unwrap();
    b.into_inner().unwrap()
}

/// An entry read back: kind, name, link target, body.
type Read4 = (Kind, Vec<u8>, Vec<u8>, Vec<u8>);

fn read_all(bytes: &[u8], limits: Limits) -> Result<Vec<Read4>, ArchiveError> {
    let mut r = Reader::new(bytes, limits);
    let mut out = Vec::new();
    while let Some(mut e) = r.next_entry()? {
        let mut body = Vec::new();
        e.read_to_end(&mut body).map_err(ArchiveError::Io)?;
        out.push((e.header.kind, e.header.name.clone(), e.header.link.clone(), body));
    }
    Ok(out)
}

#[test]
fn every_entry_kind_reads_back() {
    let entries = read_all(&gz(&sample_tar()), Limits::default()).unwrap();
    let kinds: Vec<Kind> = entries.iter().map(|e| e.0).collect();
    assert_eq!(
        kinds,
        [
            Kind::Dir,
            Kind::File,
            Kind::File,
            Kind::Symlink,
            Kind::HardLink,
            Kind::File
        ]
    );
    assert_eq!(entries[1].3, b"jpeg!");
    assert_eq!(entries[2].1.len(), "./images/".len() + 300 + 4, "a GNU long name");
    assert_eq!(entries[3].2, b"a.jpg");
    assert_eq!(entries[5].3, b"77", "contiguous is a file with its body");
}

#[test]
fn bodies_left_unread_are_skipped() {
    let bytes = gz(&sample_tar());
    let mut r = Reader::new(&bytes[..], Limits::default());
    let mut names = 0;
    while let Some(e) = r.next_entry().unwrap() {
        assert!(!e.header.name.is_empty());
        names += 1;
    }
    assert_eq!(names, 6);
}

#[test]
fn several_gzip_members_are_one_archive() {
    let tar = sample_tar();
    let mut multi = gz(&tar[..1024]);
    multi.extend(gz(&tar[1024..]));
    assert_eq!(read_all(&multi, Limits::default()).unwrap().len(), 6);
}

#[test]
fn damage_anywhere_is_corruption() {
    let good = gz(&sample_tar());
    let mut crc = good.clone();
    let at = crc.len() - 6;
    crc[at] ^= 0xff;
    let mut garbage = good.clone();
    garbage.extend_from_slice(b"trailing garbage");
    let cut_trailer = good[..good.len() - 4].to_vec();
    let cut_half = good[..good.len() / 2].to_vec();
    let tar = sample_tar();
    let no_end = gz(&tar[..tar.len() - 1024]);
    for (what, bytes) in [
        ("bad CRC", crc),
        ("trailing garbage", garbage),
        ("cut trailer", cut_trailer),
        ("cut in half", cut_half),
        ("no end-of-archive blocks", no_end),
        ("not gzip", b"plain text, not an archive".to_vec()),
    ] {
        let err = read_all(&bytes, Limits::default()).expect_err(what);
        assert!(matches!(err, ArchiveError::Corrupt(_)), "{what}: {err:?}");
    }
}

/// Case 1: a 1 GiB long-name record in a small archive is refused before
/// anything is allocated for it.
#[test]
fn a_huge_long_name_or_pax_record_is_refused_in_bounded_memory() {
    for flag in [b'L', b'K', b'x', b'g'] {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(tar::EntryType::new(flag));
        h.set_mode(0o644);
        h.set_size(1 << 30);
        h.set_cksum();
        let mut tar = h.as_bytes().to_vec();
        tar.extend(vec![b'a'; 4096]);
        let err = read_all(&gz(&tar), Limits::default()).unwrap_err();
        assert!(
            matches!(err, ArchiveError::TooLarge { size, .. } if size == 1 << 30),
            "{err:?}"
        );
    }
}

#[test]
fn too_many_entries_are_refused() {
    let limits = Limits {
        max_entries: 3,
        ..Limits::default()
    };
    let err = read_all(&gz(&sample_tar()), limits).unwrap_err();
    assert!(matches!(err, ArchiveError::TooManyEntries { limit: 3 }), "{err:?}");
}

#[test]
fn pax_records_name_the_entry() {
    let mut pax = Vec::new();
    for (k, v) in [("path", "./images/from-pax.jpg"), ("mtime", "1700000000.5")] {
        let body = format!(" {k}={v}\n");
        let mut len = body.len() + 1;
        if (len.to_string().len() + body.len()) != len {
            len = len.to_string().len() + body.len();
        }
        pax.extend(format!("{len}{body}").into_bytes());
    }
    let mut b = tar::Builder::new(Vec::new());
    let mut x = header(tar::EntryType::XHeader, pax.len() as u64);
    b.append_data(&mut x, "PaxHeader", &pax[..]).unwrap();
    b.append_data(&mut header(tar::EntryType::Regular, 2), "short", &b"hi"[..])
        .unwrap();
    let entries = read_all(&gz(&b.into_inner().unwrap()), Limits::default()).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].1, b"./images/from-pax.jpg");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random bytes, raw or gzipped: an error or an archive, never a panic.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096), zip in any::<bool>()) {
        let input = if zip { gz(&bytes) } else { bytes };
        let _ = read_all(&input, Limits::default());
    }

    /// A real archive with bytes changed (in the tar, then compressed
    /// again, so the damage reaches the parser): never a panic.
    #[test]
    fn mutated_archives_never_panic(changes in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16)) {
        let mut tar = sample_tar();
        for (at, byte) in changes {
            let i = at.index(tar.len());
            tar[i] = byte;
        }
        let _ = read_all(&gz(&tar), Limits::default());
    }
}
