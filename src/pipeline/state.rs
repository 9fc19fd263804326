//! Per-request state of the plugins that carry something from one phase to the next (a JSON
//! body being collected, an encoder, a concurrency slot, a verified token): one slot per type,
//! owned by the request context and dropped with it however the request ends. A request whose
//! plugins keep nothing pays nothing: the list never allocates.

use std::any::Any;

#[derive(Default)]
pub struct PluginState(Vec<Box<dyn Any + Send + Sync>>);

impl PluginState {
    /// Keep `value`, replacing the one of the same type.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) {
        match self.get_mut::<T>() {
            Some(slot) => *slot = value,
            None => self.0.push(Box::new(value)),
        }
    }

    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.iter().find_map(|b| b.downcast_ref())
    }

    pub fn get_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.0.iter_mut().find_map(|b| b.downcast_mut())
    }

    pub fn take<T: Any>(&mut self) -> Option<T> {
        let i = self.0.iter().position(|b| b.is::<T>())?;
        self.0.swap_remove(i).downcast().ok().map(|b| *b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slot_per_type() {
        let mut s = PluginState::default();
        s.insert(1u32);
        s.insert(String::from("a"));
        s.insert(2u32);
        assert_eq!(s.get::<u32>(), Some(&2));
        *s.get_mut::<String>().unwrap() += "b";
        assert_eq!(s.take::<String>().as_deref(), Some("ab"));
        assert!(s.get::<String>().is_none());
        assert!(s.get::<u8>().is_none());
    }
}
