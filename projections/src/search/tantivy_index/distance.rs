//! Typo counting as Meilisearch does it: restricted Damerau-Levenshtein distance (a transposition
//! is one typo), measured against the candidate's best prefix when the query word is a prefix,
//! and a typo on the first letter costs two.

/// The typos between a query word and a dictionary word under a budget, or `None` if the word is
/// not a derivation. `Some(0)` is an exact (or prefix) match.
pub(super) fn typos(query: &[char], candidate: &str, budget: u8, prefix: bool) -> Option<u8> {
    let candidate: Vec<char> = candidate.chars().collect();
    let d = distance(query, &candidate, prefix);
    let same_first = query.first() == candidate.first();
    match budget {
        0 => (d == 0).then_some(0),
        // One typo: never on the first letter (Meilisearch intersects with "starts with").
        1 => (same_first && d <= 1).then_some(d),
        // Two: a first-letter typo counts double, so it leaves room for nothing else.
        _ if same_first => (d <= 2).then_some(d),
        _ => (d <= 1).then_some(2),
    }
}

/// Optimal-string-alignment distance, or with `prefix` the smallest distance to any prefix of
/// `b`. Saturates at 255.
fn distance(a: &[char], b: &[char], prefix: bool) -> u8 {
    let (n, m) = (a.len(), b.len());
    let mut rows = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=m).collect();
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    let best = if prefix {
        rows[n].iter().copied().min().unwrap_or(n)
    } else {
        rows[n][m]
    };
    u8::try_from(best).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(q: &str, c: &str, budget: u8, prefix: bool) -> Option<u8> {
        typos(&q.chars().collect::<Vec<_>>(), c, budget, prefix)
    }

    #[test]
    fn counts_like_meilisearch() {
        assert_eq!(t("shirt", "shirt", 1, false), Some(0));
        assert_eq!(t("shirl", "shirt", 1, false), Some(1));
        assert_eq!(
            t("shrit", "shirt", 1, false),
            Some(1),
            "transposition is one typo"
        );
        assert_eq!(
            t("chirt", "shirt", 1, false),
            None,
            "no first-letter typo on one typo"
        );
        assert_eq!(t("shxrl", "shirt", 1, false), None);
        assert_eq!(t("hedphonez", "headphones", 2, false), Some(2));
        assert_eq!(
            t("jeadphones", "headphones", 2, false),
            Some(2),
            "first letter costs two"
        );
        assert_eq!(t("jeadphonez", "headphones", 2, false), None);
        assert_eq!(t("wool", "wool", 0, false), Some(0));
        assert_eq!(t("wopl", "wool", 0, false), None);
    }

    #[test]
    fn prefix_distance_uses_the_best_prefix() {
        assert_eq!(t("headph", "headphones", 1, true), Some(0));
        assert_eq!(t("headpj", "headphones", 1, true), Some(1));
        assert_eq!(t("headph", "headphones", 1, false), None);
    }
}
