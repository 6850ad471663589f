//! Typed-index arena: `Arena<T>` owns items, `Idx<T>` is a 32-bit handle into it (`NonZeroU32`, so
//! `Option<Idx<T>>` costs nothing). `SecondaryMap` attaches side data keyed by the same handles.

use std::fmt;
use std::marker::PhantomData;
use std::num::NonZeroU32;

/// A handle into an [`Arena<T>`]. Stored as `index + 1` so that the niche makes `Option<Idx<T>>` 4 bytes.
pub struct Idx<T> {
    raw: NonZeroU32,
    _ty: PhantomData<fn() -> T>,
}

impl<T> Idx<T> {
    /// Handle for the item at position `index`.
    ///
    /// # Panics
    /// If `index` does not fit in `u32 - 1` (an arena never grows that large: 4 billion values).
    pub fn from_index(index: usize) -> Self {
        let raw = u32::try_from(index + 1).expect("arena index overflows u32");
        Idx {
            raw: NonZeroU32::new(raw).expect("index + 1 is never zero"),
            _ty: PhantomData,
        }
    }

    /// Position of the item in its arena.
    pub fn index(self) -> usize {
        (self.raw.get() - 1) as usize
    }
}

impl<T> Clone for Idx<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Idx<T> {}
impl<T> PartialEq for Idx<T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl<T> Eq for Idx<T> {}
impl<T> PartialOrd for Idx<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Idx<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.raw.cmp(&other.raw)
    }
}
impl<T> std::hash::Hash for Idx<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state)
    }
}
impl<T> fmt::Debug for Idx<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.index())
    }
}

/// Owns items of type `T`, handed out as [`Idx<T>`]. Items are never removed; passes that drop
/// values simply stop referring to them, and [`crate::Graph::compact`] rebuilds the arenas.
#[derive(Clone)]
pub struct Arena<T> {
    items: Vec<T>,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena { items: Vec::new() }
    }
}

impl<T: fmt::Debug> fmt::Debug for Arena<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.items.iter()).finish()
    }
}

impl<T> Arena<T> {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn alloc(&mut self, item: T) -> Idx<T> {
        let id = Idx::from_index(self.items.len());
        self.items.push(item);
        id
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn get(&self, id: Idx<T>) -> Option<&T> {
        self.items.get(id.index())
    }
    pub fn contains(&self, id: Idx<T>) -> bool {
        id.index() < self.items.len()
    }
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (Idx<T>, &T)> + '_ {
        self.items
            .iter()
            .enumerate()
            .map(|(i, t)| (Idx::from_index(i), t))
    }
    pub fn ids(&self) -> impl ExactSizeIterator<Item = Idx<T>> {
        (0..self.items.len()).map(Idx::from_index)
    }
}

impl<T> std::ops::Index<Idx<T>> for Arena<T> {
    type Output = T;
    fn index(&self, id: Idx<T>) -> &T {
        &self.items[id.index()]
    }
}
impl<T> std::ops::IndexMut<Idx<T>> for Arena<T> {
    fn index_mut(&mut self, id: Idx<T>) -> &mut T {
        &mut self.items[id.index()]
    }
}

/// Side table keyed by the handles of one arena; absent keys read as `None`.
#[derive(Clone, Debug)]
pub struct SecondaryMap<K, V> {
    slots: Vec<Option<V>>,
    _key: PhantomData<fn() -> K>,
}

impl<K, V> Default for SecondaryMap<K, V> {
    fn default() -> Self {
        SecondaryMap {
            slots: Vec::new(),
            _key: PhantomData,
        }
    }
}

impl<K, V> SecondaryMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with_capacity(n: usize) -> Self {
        let mut slots = Vec::with_capacity(n);
        slots.resize_with(n, || None);
        SecondaryMap {
            slots,
            _key: PhantomData,
        }
    }
    pub fn insert(&mut self, key: Idx<K>, value: V) -> Option<V> {
        let i = key.index();
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i].replace(value)
    }
    pub fn get(&self, key: Idx<K>) -> Option<&V> {
        self.slots.get(key.index()).and_then(|s| s.as_ref())
    }
    pub fn get_mut(&mut self, key: Idx<K>) -> Option<&mut V> {
        self.slots.get_mut(key.index()).and_then(|s| s.as_mut())
    }
    pub fn remove(&mut self, key: Idx<K>) -> Option<V> {
        self.slots.get_mut(key.index()).and_then(|s| s.take())
    }
    pub fn contains_key(&self, key: Idx<K>) -> bool {
        self.get(key).is_some()
    }
    pub fn iter(&self) -> impl Iterator<Item = (Idx<K>, &V)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|v| (Idx::from_index(i), v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_idx_is_four_bytes() {
        assert_eq!(std::mem::size_of::<Option<Idx<u8>>>(), 4);
    }

    #[test]
    fn alloc_get_and_secondary() {
        let mut a = Arena::new();
        let x = a.alloc("x");
        let y = a.alloc("y");
        assert_eq!(a[x], "x");
        assert_eq!(a[y], "y");
        assert_eq!(y.index(), 1);
        let mut m = SecondaryMap::new();
        m.insert(y, 7);
        assert_eq!(m.get(y), Some(&7));
        assert_eq!(m.get(x), None);
        assert_eq!(m.iter().count(), 1);
    }
}
