//! Spare instances: one fresh instance per plugin, made between requests so the next call
//! does not wait for its instantiation.
//!
//! A spare is never a used instance: it is made after a call ends (off the request's path,
//! once its answer is on the way), taken whole by exactly one call, and that call's store is
//! dropped afterwards like any other. Every request still runs in an instance that served
//! nothing before it.
//!
//! Spares live outside the per-call instance budget (`plugins.max_instances`), so their
//! number has its own cap, [`SpareBudget`], for which the engine's instance pool is sized.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How many spares may exist at once across every loaded plugin (one per plugin; a reload
/// briefly holds the old and the new plugin's). The engine's pool reserves room for them.
pub const MAX_SPARES: u32 = 32;

/// The count of live spares against [`MAX_SPARES`], shared by every plugin of a runtime.
#[derive(Debug)]
pub struct SpareBudget {
    live: AtomicUsize,
    max: usize,
}

/// One spare's place in the budget, given back when dropped.
#[derive(Debug)]
pub struct BudgetPlace {
    budget: Arc<SpareBudget>,
}

impl SpareBudget {
    /// A budget of `max` spares.
    pub fn new(max: usize) -> Arc<SpareBudget> {
        Arc::new(SpareBudget {
            live: AtomicUsize::new(0),
            max,
        })
    }

    /// A place for one more spare, or `None` when `max` are alive.
    pub fn reserve(self: &Arc<Self>) -> Option<BudgetPlace> {
        self.live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| BudgetPlace {
                budget: self.clone(),
            })
    }

    /// Spares alive now.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }
}

impl Drop for BudgetPlace {
    fn drop(&mut self) {
        self.budget.live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A plugin's place for one spare `T`, and whether one is being made.
#[derive(Debug)]
pub struct SpareSlot<T> {
    spare: Mutex<Option<(T, BudgetPlace)>>,
    making: AtomicBool,
}

/// The right to make the slot's next spare: held by at most one maker at a time.
#[derive(Debug)]
pub struct Making<'a, T> {
    slot: &'a SpareSlot<T>,
    place: Option<BudgetPlace>,
}

impl<T> Default for SpareSlot<T> {
    fn default() -> Self {
        SpareSlot {
            spare: Mutex::new(None),
            making: AtomicBool::new(false),
        }
    }
}

impl<T> SpareSlot<T> {
    /// Takes the spare, leaving the slot empty; `None` when there is none.
    pub fn take(&self) -> Option<T> {
        self.spare
            .lock()
            .ok()
            .and_then(|mut s| s.take())
            .map(|(t, _place)| t)
    }

    /// Whether a spare is waiting.
    pub fn is_full(&self) -> bool {
        self.spare.lock().map(|s| s.is_some()).unwrap_or(false)
    }

    /// The right to make a spare, when the slot is empty, nobody else is making one and the
    /// budget has room; `None` otherwise (the caller then makes nothing).
    pub fn begin(&self, budget: &Arc<SpareBudget>) -> Option<Making<'_, T>> {
        if self.making.swap(true, Ordering::AcqRel) {
            return None;
        }
        // From here the right is held: dropping `making` on any way out gives it back.
        // Only a maker fills the slot, so an empty slot stays empty until `fill`.
        let mut making = Making {
            slot: self,
            place: None,
        };
        if self.is_full() {
            return None;
        }
        making.place = Some(budget.reserve()?);
        Some(making)
    }
}

impl<T> Making<'_, T> {
    /// Puts the made spare in the slot.
    pub fn fill(mut self, spare: T) {
        if let (Some(place), Ok(mut slot)) = (self.place.take(), self.slot.spare.lock()) {
            *slot = Some((spare, place));
        }
    }
}

impl<T> Drop for Making<'_, T> {
    fn drop(&mut self) {
        self.slot.making.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spare_is_taken_once_and_the_slot_is_then_empty() {
        let budget = SpareBudget::new(4);
        let slot = SpareSlot::<u32>::default();
        assert_eq!(slot.take(), None, "nothing made yet");
        slot.begin(&budget)
            .expect("empty slot, room in budget")
            .fill(7);
        assert!(slot.is_full());
        assert_eq!(budget.live(), 1);
        assert_eq!(slot.take(), Some(7));
        assert_eq!(slot.take(), None, "a spare serves one call only");
        assert_eq!(budget.live(), 0, "taking it gives its place back");
    }

    #[test]
    fn one_maker_at_a_time_and_none_while_a_spare_waits() {
        let budget = SpareBudget::new(4);
        let slot = SpareSlot::<u32>::default();
        let first = slot.begin(&budget).expect("first maker");
        assert!(slot.begin(&budget).is_none(), "a second maker is refused");
        first.fill(1);
        assert!(slot.begin(&budget).is_none(), "the slot is full");
        assert_eq!(slot.take(), Some(1));
        let abandoned = slot.begin(&budget).expect("empty again");
        drop(abandoned);
        assert_eq!(budget.live(), 0, "an abandoned making holds no place");
        assert!(
            slot.begin(&budget).is_some(),
            "a failed making frees the right"
        );
    }

    #[test]
    fn the_budget_caps_spares_across_slots() {
        let budget = SpareBudget::new(2);
        let mut slots: Vec<SpareSlot<u32>> = (0..3).map(|_| SpareSlot::default()).collect();
        slots[0].begin(&budget).expect("room").fill(0);
        slots[1].begin(&budget).expect("room").fill(1);
        assert!(slots[2].begin(&budget).is_none(), "two alive: no third");
        assert_eq!(slots[2].take(), None);
        drop(slots.remove(0));
        assert_eq!(
            budget.live(),
            1,
            "a dropped slot gives its spare's place back"
        );
    }
}
