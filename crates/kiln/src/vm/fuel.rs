//! The store's fuel. Compiled code counts in the store context's `fuel_consumed`, which
//! starts at minus the fuel it was given and runs out when it reaches zero; at most
//! `i64::MAX` fits there, so a larger amount keeps the rest in the store's reserve, and the
//! `out_of_gas` builtin moves it over when the count runs out (as wasmtime does).
use super::store::StoreOpaque;

impl StoreOpaque {
    /// The fuel left: the reserve, plus what the count has not used.
    pub fn fuel(&self) -> u64 {
        // The count never goes below -i64::MAX (`set_fuel` puts at most that much there).
        self.fuel_reserve.saturating_add_signed(self.context_ref().fuel_consumed.saturating_neg())
    }

    /// Give the store `fuel` units, replacing what it had.
    pub fn set_fuel(&mut self, fuel: u64) {
        let injected = fuel.min(i64::MAX as u64);
        self.fuel_reserve = fuel - injected;
        self.context_mut().fuel_consumed = -(injected as i64);
    }

    /// The count ran out: refill it from the reserve. Whether fuel is left.
    pub fn refuel(&mut self) -> bool {
        let fuel = self.fuel();
        if fuel == 0 {
            return false;
        }
        self.set_fuel(fuel);
        true
    }
}
