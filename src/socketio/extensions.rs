//! Values an application keeps with a socket, one per type.
//!
//! A socket holds a few of them (the app's user and session), so they sit in a
//! vector searched in order: a hash table would cost every connection a table
//! several times their size for no faster lookup.

use std::any::{Any, TypeId};

type Value = Box<dyn Any + Send + Sync>;

/// A map from a type to one value of that type.
#[derive(Default)]
pub struct Extensions {
    values: Vec<(TypeId, Value)>,
}

impl Extensions {
    /// An empty map.
    pub fn new() -> Extensions {
        Extensions::default()
    }

    /// Stores `value`, returning the one it replaces.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        self.put(TypeId::of::<T>(), Box::new(value))
            .and_then(|old| old.downcast().ok().map(|old| *old))
    }

    /// Stores `value` under `key`, returning the one it replaces.
    fn put(&mut self, key: TypeId, value: Value) -> Option<Value> {
        match self.values.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) => Some(std::mem::replace(old, value)),
            None => {
                self.values.push((key, value));
                None
            }
        }
    }

    /// The value of type `T`, if one is stored.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        let key = TypeId::of::<T>();
        let (_, value) = self.values.iter().find(|(k, _)| *k == key)?;
        value.downcast_ref()
    }

    /// Gives back the room grown for values never stored (a socket keeps
    /// its extensions for its whole life).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.values.shrink_to_fit();
    }

    /// Moves every value of `other` in, replacing those of the same type.
    pub(crate) fn extend(&mut self, other: Extensions) {
        self.values.reserve_exact(other.values.len());
        for (key, value) in other.values {
            self.put(key, value);
        }
    }

    /// Takes out the value of type `T`, if one is stored.
    pub fn remove<T: 'static>(&mut self) -> Option<T> {
        let key = TypeId::of::<T>();
        let at = self.values.iter().position(|(k, _)| *k == key)?;
        self.values
            .swap_remove(at)
            .1
            .downcast()
            .ok()
            .map(|old| *old)
    }
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.values.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Extensions;

    #[test]
    fn one_value_per_type() {
        let mut ext = Extensions::new();
        assert_eq!(ext.insert(1u32), None);
        assert_eq!(ext.insert(2u32), Some(1));
        ext.insert("text");
        assert_eq!(ext.get::<u32>(), Some(&2));
        assert_eq!(ext.get::<&str>(), Some(&"text"));
        assert_eq!(ext.remove::<u32>(), Some(2));
        assert_eq!(ext.get::<u32>(), None);
        assert_eq!(ext.get::<&str>(), Some(&"text"));
    }

    #[test]
    fn extend_replaces_values_of_the_same_type() {
        let mut ext = Extensions::new();
        ext.insert(1u32);
        ext.insert("kept");
        let mut other = Extensions::new();
        other.insert(2u32);
        other.insert(3u64);
        ext.extend(other);
        assert_eq!(ext.get::<u32>(), Some(&2));
        assert_eq!(ext.get::<u64>(), Some(&3));
        assert_eq!(ext.get::<&str>(), Some(&"kept"));
    }
}
