//! [`Struct`]: a struct value's members, in order, looked up by name.
//!
//! Most structs are small (a listed contact has about twenty members, a request's
//! parameters a handful) and are built once, written once and dropped: for them a plain
//! vector searched from the front costs less than a hash map (no hashing of every name, one
//! allocation instead of two). A struct that grows past [`LINEAR_LIMIT`] members gets a
//! hash index, so a hostile request with a hundred thousand members costs linear time, not
//! quadratic.

use std::fmt;
use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::value::{Key, Value};

/// Members up to which lookups scan the vector; past it a hash index is kept.
const LINEAR_LIMIT: usize = 24;

/// A struct's members, in the order they arrived or were inserted.
///
/// Order is kept because people read responses and golden files; a duplicate member name
/// keeps its first position and takes the last value, as most XML-RPC libraries do.
/// Equality ignores order, as for a map.
#[derive(Clone, Default)]
pub struct Struct {
    entries: Vec<(Key, Value)>,
    index: Option<Index>,
}

/// Positions of the entries by name, for large structs. Member names come from clients,
/// so the hasher is seeded at random per process.
#[derive(Clone)]
struct Index {
    table: HashTable<usize>,
    hasher: foldhash::fast::RandomState,
}

impl Index {
    fn build(entries: &[(Key, Value)]) -> Index {
        let hasher = foldhash::fast::RandomState::default();
        let mut table = HashTable::with_capacity(entries.len());
        for (position, (name, _)) in entries.iter().enumerate() {
            let hash = hasher.hash_one(name.as_ref());
            table.insert_unique(hash, position, |&at| {
                hasher.hash_one(entries[at].0.as_ref())
            });
        }
        Index { table, hasher }
    }

    fn find(&self, entries: &[(Key, Value)], name: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(name);
        self.table.find(hash, |&at| entries[at].0 == name).copied()
    }

    fn add(&mut self, entries: &[(Key, Value)], position: usize) {
        let hash = self.hasher.hash_one(entries[position].0.as_ref());
        let hasher = &self.hasher;
        self.table.insert_unique(hash, position, |&at| {
            hasher.hash_one(entries[at].0.as_ref())
        });
    }
}

impl Struct {
    /// An empty struct.
    pub fn new() -> Struct {
        Struct::default()
    }

    /// An empty struct with room for `capacity` members.
    pub fn with_capacity(capacity: usize) -> Struct {
        Struct {
            entries: Vec::with_capacity(capacity),
            index: None,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, name: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.find(&self.entries, name),
            None => self.entries.iter().position(|(key, _)| key == name),
        }
    }

    /// Sets member `name`: a new name goes last, a known one keeps its place and takes the
    /// new value. Returns the value it replaced.
    pub fn insert(&mut self, name: Key, value: Value) -> Option<Value> {
        if let Some(at) = self.position(&name) {
            return Some(std::mem::replace(&mut self.entries[at].1, value));
        }
        self.push_new(name, value);
        None
    }

    fn push_new(&mut self, name: Key, value: Value) {
        self.entries.push((name, value));
        let last = self.entries.len() - 1;
        match &mut self.index {
            Some(index) => index.add(&self.entries, last),
            None if self.entries.len() > LINEAR_LIMIT => {
                self.index = Some(Index::build(&self.entries));
            }
            None => {}
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.position(name).map(|at| &self.entries[at].1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.position(name).map(|at| &mut self.entries[at].1)
    }

    pub fn get_key_value(&self, name: &str) -> Option<(&Key, &Value)> {
        self.position(name).map(|at| {
            let (key, value) = &self.entries[at];
            (key, value)
        })
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Removes member `name`, keeping the order of the others.
    pub fn shift_remove(&mut self, name: &str) -> Option<Value> {
        let at = self.position(name)?;
        let (_, value) = self.entries.remove(at);
        if self.index.is_some() {
            self.index = (self.entries.len() > LINEAR_LIMIT).then(|| Index::build(&self.entries));
        }
        Some(value)
    }

    /// Same as [`Struct::shift_remove`].
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.shift_remove(name)
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Key> + ExactSizeIterator {
        self.entries.iter().map(|(key, _)| key)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, value)| value)
    }

    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, value)| value)
    }

    pub fn into_values(self) -> impl DoubleEndedIterator<Item = Value> + ExactSizeIterator {
        self.entries.into_iter().map(|(_, value)| value)
    }

    pub fn first(&self) -> Option<(&Key, &Value)> {
        self.entries.first().map(|(key, value)| (key, value))
    }
}

/// Iterator over `(name, value)` in order.
pub struct Iter<'a>(std::slice::Iter<'a, (Key, Value)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Key, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(key, value)| (key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(key, value)| (key, value))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Struct {
    type Item = (&'a Key, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for Struct {
    type Item = (Key, Value);
    type IntoIter = std::vec::IntoIter<(Key, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(Key, Value)> for Struct {
    fn from_iter<I: IntoIterator<Item = (Key, Value)>>(members: I) -> Struct {
        let mut result = Struct::default();
        result.extend(members);
        result
    }
}

impl Extend<(Key, Value)> for Struct {
    fn extend<I: IntoIterator<Item = (Key, Value)>>(&mut self, members: I) {
        let members = members.into_iter();
        self.entries.reserve(members.size_hint().0);
        for (name, value) in members {
            self.insert(name, value);
        }
    }
}

impl std::ops::Index<&str> for Struct {
    type Output = Value;

    /// The value of member `name`; panics if there is none (as a map's indexing does).
    fn index(&self, name: &str) -> &Value {
        self.get(name)
            .unwrap_or_else(|| panic!("struct has no member {name}"))
    }
}

impl PartialEq for Struct {
    fn eq(&self, other: &Struct) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(name, value)| other.get(name) == Some(value))
    }
}

impl fmt::Debug for Struct {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(members: &Struct) -> Vec<&str> {
        members.keys().map(|key| key.as_ref()).collect()
    }

    #[test]
    fn keeps_order_and_the_last_value_of_a_repeated_name() {
        let mut members = Struct::new();
        assert_eq!(members.insert("b".into(), Value::Int(1)), None);
        members.insert("a".into(), Value::Int(2));
        assert_eq!(
            members.insert("b".into(), Value::Int(3)),
            Some(Value::Int(1))
        );
        assert_eq!(names(&members), ["b", "a"]);
        assert_eq!(members["b"], Value::Int(3));
        assert_eq!(members.len(), 2);
    }

    #[test]
    fn large_structs_behave_like_small_ones() {
        // Past the linear limit lookups go through the hash index: the same answers,
        // through inserts of new and repeated names and removals that shift positions.
        for size in [3, LINEAR_LIMIT, LINEAR_LIMIT + 1, 200] {
            let mut members = Struct::new();
            for round in 0..2 {
                for n in 0..size {
                    members.insert(
                        format!("m{n}").into(),
                        Value::Int((n + round * 1000) as i64),
                    );
                }
            }
            assert_eq!(members.len(), size);
            for n in 0..size {
                assert_eq!(
                    members.get(&format!("m{n}")),
                    Some(&Value::Int((n + 1000) as i64))
                );
            }
            assert_eq!(members.get("absent"), None);
            assert_eq!(members.shift_remove("m0"), Some(Value::Int(1000)));
            assert_eq!(members.shift_remove("m0"), None);
            assert_eq!(members.len(), size - 1);
            for n in 1..size {
                assert!(members.contains_key(&format!("m{n}")), "m{n} of {size}");
            }
            assert_eq!(names(&members).first().copied(), (size > 1).then_some("m1"));
            members.insert("m0".into(), Value::Nil);
            assert_eq!(names(&members).last().copied(), Some("m0"));
            assert_eq!(members.get("m0"), Some(&Value::Nil));
        }
    }

    #[test]
    fn only_large_structs_keep_an_index() {
        // The index is what keeps a hostile struct's lookups from costing quadratic time.
        let sized = |size: i64| -> Struct {
            (0..size)
                .map(|n| (Key::from(format!("member{n}")), Value::Int(n)))
                .collect()
        };
        assert!(sized(LINEAR_LIMIT as i64).index.is_none());
        let large = sized(200_000);
        assert!(large.index.is_some());
        assert_eq!(large.len(), 200_000);
        assert_eq!(large.get("member199999"), Some(&Value::Int(199_999)));
    }

    #[test]
    fn equality_ignores_order() {
        let make = |members: [(&'static str, i64); 2]| -> Struct {
            members
                .into_iter()
                .map(|(name, number)| (Key::from(name), Value::Int(number)))
                .collect()
        };
        let ab = make([("a", 1), ("b", 2)]);
        let ba = make([("b", 2), ("a", 1)]);
        let other = make([("a", 1), ("b", 3)]);
        assert_eq!(ab, ba);
        assert_ne!(ab, other);
        assert_ne!(ab, Struct::new());
    }
}
