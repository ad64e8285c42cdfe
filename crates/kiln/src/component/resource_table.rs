//! `ResourceTable`: where a host keeps the Rust values behind its resources. Pushing a value
//! gives a [`Resource<T>`] whose representation indexes the table; the host gets the value
//! back by that handle, typed, and a handle of another type or a freed slot is an error,
//! never another value.
use std::any::Any;

use super::typed::Resource;
use crate::{Error, Result};

/// The most entries one table holds.
const MAX_ENTRIES: usize = 1 << 24;

/// A table of host values, indexed by resource representations.
#[derive(Default)]
pub struct ResourceTable {
    entries: Vec<Option<Box<dyn Any + Send>>>,
    free: Vec<u32>,
}

impl std::fmt::Debug for ResourceTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResourceTable({} live)", self.entries.iter().filter(|e| e.is_some()).count())
    }
}

impl ResourceTable {
    /// An empty table.
    pub fn new() -> ResourceTable {
        ResourceTable::default()
    }

    /// Stores `value` and returns an owned handle to it.
    ///
    /// # Errors
    /// When the table is full.
    pub fn push<T: Send + 'static>(&mut self, value: T) -> Result<Resource<T>> {
        let index = match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = Some(Box::new(value));
                i
            }
            None => {
                if self.entries.len() >= MAX_ENTRIES {
                    return Err(Error::Limit(format!("a resource table holds at most {MAX_ENTRIES} entries")));
                }
                self.entries.push(Some(Box::new(value)));
                (self.entries.len() - 1) as u32
            }
        };
        Ok(Resource::new_own(index))
    }

    fn slot(&self, rep: u32) -> Result<&(dyn Any + Send)> {
        self.entries
            .get(rep as usize)
            .and_then(|e| e.as_deref())
            .ok_or_else(|| Error::Other(format!("unknown resource {rep}")))
    }

    /// The value behind `r`.
    ///
    /// # Errors
    /// When `r` names no live entry, or one of another type.
    pub fn get<T: 'static>(&self, r: &Resource<T>) -> Result<&T> {
        self.slot(r.rep())?.downcast_ref().ok_or_else(|| Error::Other(format!("resource {} has another type", r.rep())))
    }

    /// The value behind `r`, for writing.
    ///
    /// # Errors
    /// As for [`ResourceTable::get`].
    pub fn get_mut<T: 'static>(&mut self, r: &Resource<T>) -> Result<&mut T> {
        let rep = r.rep();
        self.entries
            .get_mut(rep as usize)
            .and_then(|e| e.as_deref_mut())
            .ok_or_else(|| Error::Other(format!("unknown resource {rep}")))?
            .downcast_mut()
            .ok_or_else(|| Error::Other(format!("resource {rep} has another type")))
    }

    /// Removes the value behind `r` and returns it.
    ///
    /// # Errors
    /// As for [`ResourceTable::get`].
    pub fn delete<T: 'static>(&mut self, r: Resource<T>) -> Result<T> {
        self.get::<T>(&r)?;
        let value = self.entries[r.rep() as usize].take().ok_or_else(|| Error::Other("unknown resource".into()))?;
        self.free.push(r.rep());
        value.downcast::<T>().map(|b| *b).map_err(|_| Error::Other(format!("resource {} has another type", r.rep())))
    }
}
