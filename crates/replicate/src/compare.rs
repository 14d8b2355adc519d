//! Deciding, from two listings, which objects a destination lacks, which
//! differ, and which it holds that the primary does not.

use std::collections::{BTreeMap, BTreeSet};

use adt_datastore::{ObjectInfo, ObjectMeta};

/// The metadata name under which a copy records its source's ETag. A copy's
/// own ETag depends on how it was uploaded (one PUT, or parts of some size),
/// so it equals the source's only sometimes; the recorded one tells a rerun
/// that the copy is of this very version.
pub const SOURCE_ETAG_KEY: &str = "adt-source-etag";

/// What one primary object needs on a destination, as far as the listings tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not on the destination.
    Missing,
    /// A different size: different content.
    Changed,
    /// Same size and ETag, and not changed on the primary since it was copied.
    Same,
    /// Same size, different ETag: the copy's recorded source ETag decides.
    CheckEtag,
    /// Same content, but the primary's object is newer than the copy: its
    /// metadata (mode, owner, content type) may have changed since.
    CheckMetadata,
}

/// Compares a primary object with the destination's object of the same key.
pub fn compare(src: &ObjectInfo, dst: Option<&ObjectInfo>) -> Verdict {
    match dst {
        None => Verdict::Missing,
        Some(d) if d.size != src.size => Verdict::Changed,
        Some(d) if d.etag != src.etag => Verdict::CheckEtag,
        Some(d) if newer(src, d) => Verdict::CheckMetadata,
        Some(_) => Verdict::Same,
    }
}

/// Whether the primary object was modified after the copy was written.
pub fn newer(src: &ObjectInfo, dst: &ObjectInfo) -> bool {
    matches!((src.last_modified, dst.last_modified), (Some(s), Some(d)) if s > d)
}

/// After a HEAD of the copy: whether it was copied from the primary's
/// current version (its recorded source ETag is the primary's ETag).
pub fn copied_from(src: &ObjectInfo, dst: &ObjectMeta) -> bool {
    dst.size == src.size && dst.metadata.get(SOURCE_ETAG_KEY).is_some_and(|e| *e == src.etag)
}

/// Whether two objects carry the same content type and user metadata,
/// leaving out the recorded source ETag (only copies have it).
pub fn same_headers(src: &ObjectMeta, dst: &ObjectMeta) -> bool {
    let user = |m: &ObjectMeta| -> BTreeMap<String, String> {
        m.metadata
            .iter()
            .filter(|(k, _)| k.as_str() != SOURCE_ETAG_KEY)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    src.content_type == dst.content_type && user(src) == user(dst)
}

/// One bucket's listings compared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Primary objects to copy without further checks.
    pub copy: Vec<ObjectInfo>,
    /// Primary objects whose copy needs a HEAD to decide, with the copy's
    /// listing and the question.
    pub check: Vec<(ObjectInfo, ObjectInfo, Verdict)>,
    /// Primary objects the destination already holds.
    pub same: u64,
    /// Destination objects the primary does not have.
    pub extra: Vec<ObjectInfo>,
}

/// Where a destination keeps the versions replication replaced or
/// deleted: `.adt-replaced/RUN/KEY` in the same bucket. Never replicated,
/// never compared, never deleted as extra; expired by retention.
pub const REPLACED_PREFIX: &str = ".adt-replaced/";

/// Compares the primary's listing of a bucket with a destination's
/// (leaving out both sides' `.adt-replaced/` versions).
pub fn diff(primary: &[ObjectInfo], destination: &[ObjectInfo]) -> Diff {
    let kept = |o: &&ObjectInfo| !o.key.starts_with(REPLACED_PREFIX);
    let primary: Vec<ObjectInfo> = primary.iter().filter(kept).cloned().collect();
    let destination: Vec<ObjectInfo> = destination.iter().filter(kept).cloned().collect();
    let (primary, destination) = (primary.as_slice(), destination.as_slice());
    let theirs: BTreeMap<&str, &ObjectInfo> = destination.iter().map(|o| (o.key.as_str(), o)).collect();
    let ours: BTreeSet<&str> = primary.iter().map(|o| o.key.as_str()).collect();
    let mut d = Diff::default();
    for src in primary {
        let dst = theirs.get(src.key.as_str()).copied();
        match (compare(src, dst), dst) {
            (Verdict::Same, _) => d.same += 1,
            (v @ (Verdict::CheckEtag | Verdict::CheckMetadata), Some(dst)) => {
                d.check.push((src.clone(), dst.clone(), v))
            }
            _ => d.copy.push(src.clone()),
        }
    }
    d.extra = destination
        .iter()
        .filter(|o| !ours.contains(o.key.as_str()))
        .cloned()
        .collect();
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obj(key: &str, size: u64, etag: &str, modified: i64) -> ObjectInfo {
        ObjectInfo {
            key: key.into(),
            size,
            etag: etag.into(),
            last_modified: Some(modified),
        }
    }

    #[test]
    fn verdicts() {
        let src = obj("a", 3, "e1", 100);
        assert_eq!(compare(&src, None), Verdict::Missing);
        assert_eq!(compare(&src, Some(&obj("a", 4, "e1", 200))), Verdict::Changed);
        assert_eq!(compare(&src, Some(&obj("a", 3, "e2-2", 200))), Verdict::CheckEtag);
        assert_eq!(compare(&src, Some(&obj("a", 3, "e1", 200))), Verdict::Same);
        assert_eq!(compare(&src, Some(&obj("a", 3, "e1", 50))), Verdict::CheckMetadata);
    }

    #[test]
    fn a_copy_is_recognised_by_its_recorded_etag_and_size() {
        let src = obj("a", 3, "abc-2", 100);
        let mut meta = ObjectMeta {
            size: 3,
            etag: "other".into(),
            ..ObjectMeta::default()
        };
        assert!(!copied_from(&src, &meta));
        meta.metadata.insert(SOURCE_ETAG_KEY.into(), "abc-2".into());
        assert!(copied_from(&src, &meta));
        meta.size = 4;
        assert!(!copied_from(&src, &meta));
    }

    #[test]
    fn headers_compare_without_the_recorded_etag() {
        let mut a = ObjectMeta {
            content_type: Some("image/png".into()),
            ..ObjectMeta::default()
        };
        a.metadata.insert("mode".into(), "33188".into());
        let mut b = a.clone();
        b.metadata.insert(SOURCE_ETAG_KEY.into(), "x".into());
        assert!(same_headers(&a, &b));
        b.metadata.insert("mode".into(), "33152".into());
        assert!(!same_headers(&a, &b));
        let mut c = a.clone();
        c.content_type = Some("application/octet-stream".into());
        assert!(!same_headers(&a, &c));
    }

    fn listing() -> impl Strategy<Value = Vec<ObjectInfo>> {
        proptest::collection::btree_map("[a-e]{1,2}", (0u64..3, "[xy]", 0i64..3), 0..12).prop_map(|m| {
            m.into_iter()
                .map(|(key, (size, etag, modified))| obj(&key, size, &etag, modified))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn every_key_is_accounted_for_once(primary in listing(), destination in listing()) {
            let d = diff(&primary, &destination);
            let placed = d.copy.len() + d.check.len() + d.same as usize;
            prop_assert_eq!(placed, primary.len());
            let mut keys: Vec<&str> = d.copy.iter().map(|o| o.key.as_str())
                .chain(d.check.iter().map(|(o, _, _)| o.key.as_str()))
                .collect();
            keys.sort_unstable();
            keys.dedup();
            prop_assert_eq!(keys.len() + d.same as usize, primary.len());
            for o in &d.extra {
                prop_assert!(primary.iter().all(|p| p.key != o.key));
            }
            let shared = destination.iter().filter(|o| primary.iter().any(|p| p.key == o.key)).count();
            prop_assert_eq!(d.extra.len() + shared, destination.len());
        }

        #[test]
        fn a_listing_compared_with_itself_needs_nothing(primary in listing()) {
            let d = diff(&primary, &primary);
            prop_assert!(d.copy.is_empty() && d.check.is_empty() && d.extra.is_empty());
            prop_assert_eq!(d.same as usize, primary.len());
        }
    }
}
