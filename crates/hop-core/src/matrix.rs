//! The strategy x day P&L matrix, stored strategy-major (SPEC 2.2): `values[j * T + t]` is strategy
//! `j`'s net P&L on day `t`. This is the same buffer as the Arrow `pnl` child array.

use crate::error::CoreError;

#[derive(Debug, Clone, PartialEq)]
pub struct PnlMatrix {
    names: Vec<String>,
    dates: Vec<String>,
    values: Vec<f64>,
}

impl PnlMatrix {
    /// Builds a matrix, checking that the shapes agree and that names are unique.
    pub fn new(
        names: Vec<String>,
        dates: Vec<String>,
        values: Vec<f64>,
    ) -> Result<Self, CoreError> {
        if names.is_empty() {
            return Err(CoreError::Shape("the matrix has no strategy".into()));
        }
        if dates.is_empty() {
            return Err(CoreError::Shape("the matrix has no trading day".into()));
        }
        if values.len() != names.len() * dates.len() {
            return Err(CoreError::Shape(format!(
                "{} values for {} strategies x {} days",
                values.len(),
                names.len(),
                dates.len()
            )));
        }
        let mut seen = std::collections::HashSet::with_capacity(names.len());
        for name in &names {
            if !seen.insert(name.as_str()) {
                return Err(CoreError::Shape(format!(
                    "duplicate strategy name {name:?}"
                )));
            }
        }
        Ok(Self {
            names,
            dates,
            values,
        })
    }

    pub fn n_strategies(&self) -> usize {
        self.names.len()
    }

    pub fn n_days(&self) -> usize {
        self.dates.len()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Trading dates, ISO `YYYY-MM-DD`, in file order.
    pub fn dates(&self) -> &[String] {
        &self.dates
    }

    /// The whole strategy-major buffer.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Strategy `j`'s daily series.
    pub fn column(&self, j: usize) -> &[f64] {
        let t = self.n_days();
        &self.values[j * t..(j + 1) * t]
    }

    /// A new matrix holding only the given strategies, in the given order.
    pub fn select(&self, strategies: &[usize]) -> Result<Self, CoreError> {
        let names = strategies.iter().map(|&j| self.names[j].clone()).collect();
        let mut values = Vec::with_capacity(strategies.len() * self.n_days());
        for &j in strategies {
            values.extend_from_slice(self.column(j));
        }
        Self::new(names, self.dates.clone(), values)
    }

    /// A new matrix holding only the days `days` (a range of day indices) of every strategy.
    pub fn days(&self, days: std::ops::Range<usize>) -> Result<Self, CoreError> {
        if days.end > self.n_days() || days.start > days.end {
            return Err(CoreError::Shape(format!(
                "days {}..{} are outside the {} days of the matrix",
                days.start,
                days.end,
                self.n_days()
            )));
        }
        let mut values = Vec::with_capacity(self.n_strategies() * days.len());
        for j in 0..self.n_strategies() {
            values.extend_from_slice(&self.column(j)[days.clone()]);
        }
        Self::new(self.names.clone(), self.dates[days].to_vec(), values)
    }
}
