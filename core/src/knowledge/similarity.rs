//! Nearest known classes for an unknown error: token TF-IDF vectors of every
//! rule's text (title, analysis, codes, fixture messages), built once at load,
//! compared by cosine similarity with the message.

use std::cmp::Ordering;
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct SimilarityIndex {
    vocabulary: HashMap<String, (u32, f32)>,
    /// Per rule (same order as the rules), sorted by term id, unit length.
    vectors: Vec<Vec<(u32, f32)>>,
}

/// Words that say nothing about which error it is.
const STOP_WORDS: &[&str] = &[
    "the",
    "and",
    "for",
    "you",
    "your",
    "not",
    "are",
    "was",
    "with",
    "this",
    "that",
    "from",
    "has",
    "have",
    "can",
    "cannot",
    "when",
    "calling",
    "operation",
    "error",
    "occurred",
    "request",
    "status",
    "code",
    "aws",
    "amazon",
    "its",
    "into",
    "any",
    "all",
    "must",
    "does",
    "been",
    "will",
    "use",
    "more",
    "than",
    "there",
    "which",
    "but",
    "only",
    "see",
    "about",
    "try",
    "again",
    "failed",
    "please",
    "id",
];

pub fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| word.len() >= 3 && word.len() <= 40)
        .map(|word| word.to_ascii_lowercase())
        .filter(|word| {
            !word.bytes().all(|b| b.is_ascii_digit()) && !STOP_WORDS.contains(&word.as_str())
        })
}

impl SimilarityIndex {
    pub fn build(documents: &[String]) -> SimilarityIndex {
        let mut document_frequency: HashMap<String, u32> = HashMap::new();
        let counted: Vec<HashMap<String, u32>> = documents
            .iter()
            .map(|document| {
                let mut counts: HashMap<String, u32> = HashMap::new();
                for token in tokens(document) {
                    *counts.entry(token).or_default() += 1;
                }
                for token in counts.keys() {
                    *document_frequency.entry(token.clone()).or_default() += 1;
                }
                counts
            })
            .collect();
        let total = documents.len().max(1) as f32;
        let mut terms: Vec<(String, u32)> = document_frequency.into_iter().collect();
        // Term ids in a fixed order keep the index identical from build to build.
        sort_stably(&mut terms, |a, b| a.cmp(b));
        let vocabulary: HashMap<String, (u32, f32)> = terms
            .into_iter()
            .enumerate()
            .map(|(id, (term, frequency))| {
                (term, (id as u32, (total / frequency as f32).ln() + 1.0))
            })
            .collect();
        let vectors = counted
            .iter()
            .map(|counts| normalised(counts, &vocabulary))
            .collect();
        SimilarityIndex {
            vocabulary,
            vectors,
        }
    }

    /// Cosine similarity of `text` with every document, best first, above `floor`.
    pub fn nearest(&self, text: &str, floor: f32) -> Vec<(usize, f32)> {
        let mut counts: HashMap<String, u32> = HashMap::new();
        for token in tokens(text) {
            *counts.entry(token).or_default() += 1;
        }
        let query = normalised(&counts, &self.vocabulary);
        if query.is_empty() {
            return Vec::new();
        }
        let mut scored: Vec<(usize, f32)> = self
            .vectors
            .iter()
            .enumerate()
            .map(|(index, vector)| (index, dot(&query, vector)))
            .filter(|(_, score)| *score > floor)
            .collect();
        sort_stably(&mut scored, best_first);
        scored
    }
}

fn normalised(
    counts: &HashMap<String, u32>,
    vocabulary: &HashMap<String, (u32, f32)>,
) -> Vec<(u32, f32)> {
    let mut vector: Vec<(u32, f32)> = counts
        .iter()
        .filter_map(|(term, count)| {
            vocabulary
                .get(term)
                .map(|(id, idf)| (*id, (1.0 + (*count as f32).ln()) * idf))
        })
        .collect();
    sort_stably(&mut vector, |a, b| a.0.cmp(&b.0));
    let norm = vector
        .iter()
        .map(|(_, weight)| weight * weight)
        .sum::<f32>()
        .sqrt();
    if norm > 0.0 {
        for (_, weight) in &mut vector {
            *weight /= norm;
        }
    }
    vector
}

/// Higher similarity first, then lower index.
pub fn best_first(a: &(usize, f32), b: &(usize, f32)) -> Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

/// `slice::sort_by`'s order (stable), with one sort routine for every element
/// type: each `sort_by` instantiation adds kilobytes to the extension's wasm,
/// while this sorts indices through one shared instantiation.
pub fn sort_stably<T>(items: &mut Vec<T>, order: impl Fn(&T, &T) -> Ordering) {
    let indices = stable_order(items.len(), &|a, b| order(&items[a], &items[b]));
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(indices.into_iter().filter_map(|index| slots[index].take()));
}

#[inline(never)]
fn stable_order(len: usize, order: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..len).collect();
    indices.sort_by(|a, b| order(*a, *b));
    indices
}

fn dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_document_shares_rare_words() {
        let index = SimilarityIndex::build(&[
            "bucket is not empty delete versions".to_string(),
            "vcpu limit exceeded quota instances".to_string(),
        ]);
        let nearest = index.nearest("the vcpu quota was reached", 0.0);
        assert_eq!(nearest.first().map(|(index, _)| *index), Some(1));
        assert!(index.nearest("zzz qqq", 0.0).is_empty());
    }

    #[test]
    fn sort_stably_keeps_the_order_of_equals() {
        let mut items = vec![(2, 'a'), (1, 'b'), (2, 'c'), (0, 'd'), (1, 'e')];
        let mut expected = items.clone();
        expected.sort_by_key(|item| item.0);
        sort_stably(&mut items, |a, b| a.0.cmp(&b.0));
        assert_eq!(items, expected);
    }
}
