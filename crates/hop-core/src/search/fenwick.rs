//! A Fenwick (binary indexed) tree of non-negative weights: O(log n) updates and weighted draws.

#[derive(Debug, Clone)]
pub struct Fenwick {
    tree: Vec<f64>,
}

impl Fenwick {
    pub fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        let mut tree = vec![0.0; n + 1];
        for (i, &w) in weights.iter().enumerate() {
            tree[i + 1] += w;
            let parent = (i + 1) + ((i + 1) & (i + 1).wrapping_neg());
            if parent <= n {
                tree[parent] += tree[i + 1];
            }
        }
        Self { tree }
    }

    pub fn add(&mut self, index: usize, delta: f64) {
        let mut i = index + 1;
        while i < self.tree.len() {
            self.tree[i] += delta;
            i += i & i.wrapping_neg();
        }
    }

    pub fn total(&self) -> f64 {
        let mut i = self.tree.len() - 1;
        let mut sum = 0.0;
        while i > 0 {
            sum += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        sum
    }

    /// The index whose cumulative weight interval holds `target` (0 <= target < total).
    pub fn find(&self, mut target: f64) -> usize {
        let n = self.tree.len() - 1;
        let mut pos = 0;
        let mut step = n.next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next <= n && self.tree[next] <= target {
                pos = next;
                target -= self.tree[next];
            }
            step >>= 1;
        }
        pos.min(n - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::Fenwick;

    #[test]
    fn draws_follow_weights() {
        let mut f = Fenwick::new(&[1.0, 0.0, 3.0, 0.0, 4.0]);
        assert_eq!(f.total(), 8.0);
        assert_eq!(f.find(0.5), 0);
        assert_eq!(f.find(1.0), 2);
        assert_eq!(f.find(3.99), 2);
        assert_eq!(f.find(4.0), 4);
        assert_eq!(f.find(7.99), 4);
        f.add(1, 2.0);
        assert_eq!(f.total(), 10.0);
        assert_eq!(f.find(1.5), 1);
    }
}
