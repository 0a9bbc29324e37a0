//! How the prompts of an ensemble (several prompts trained for one task) agree on a class.

use serde::{Deserialize, Serialize};

/// The rule that turns the members' class probabilities into one prediction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vote {
    /// Each member votes for its most probable class; the class with most votes wins, a tie
    /// going to the tied class with the highest mean probability (the paper's rule, §6).
    #[default]
    Majority,
    /// The class with the highest probability averaged over the members.
    #[serde(alias = "mean")]
    MeanProbability,
}

impl Vote {
    /// The winning class of the members, given each member's own class (the best of its
    /// scores) and its class probabilities (rows of equal length), and the mean probabilities.
    ///
    /// # Panics
    /// If there are no members.
    pub fn decide(self, classes: &[usize], probabilities: &[Vec<f32>]) -> (usize, Vec<f32>) {
        let mut mean = vec![0.0f32; probabilities[0].len()];
        for row in probabilities {
            for (m, p) in mean.iter_mut().zip(row) {
                *m += p;
            }
        }
        mean.iter_mut()
            .for_each(|m| *m /= probabilities.len() as f32);
        let winner = match self {
            Self::MeanProbability => argmax(&mean, |c| mean[c]),
            Self::Majority => {
                let mut votes = vec![0usize; mean.len()];
                for &class in classes {
                    votes[class] += 1;
                }
                // Most votes first, then the higher mean probability.
                argmax(&votes, |c| (votes[c], mean[c]))
            }
        };
        (winner, mean)
    }
}

impl std::fmt::Display for Vote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Majority => "majority vote",
            Self::MeanProbability => "mean probability",
        })
    }
}

/// The index whose `key` is largest; the first of equals.
pub fn argmax<T, K: PartialOrd>(items: &[T], key: impl Fn(usize) -> K) -> usize {
    (1..items.len()).fold(0, |best, c| if key(c) > key(best) { c } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row's most probable class.
    fn own_classes(members: &[Vec<f32>]) -> Vec<usize> {
        members.iter().map(|row| argmax(row, |c| row[c])).collect()
    }

    #[test]
    fn majority_counts_votes_and_mean_averages_probabilities() {
        // Two members say class 0 weakly, one says class 1 strongly.
        let members = vec![vec![0.6, 0.4], vec![0.55, 0.45], vec![0.05, 0.95]];
        let (class, mean) = Vote::Majority.decide(&own_classes(&members), &members);
        assert_eq!(class, 0);
        assert!((mean[0] - 0.4).abs() < 1e-6 && (mean[1] - 0.6).abs() < 1e-6);
        let (class, _) = Vote::MeanProbability.decide(&own_classes(&members), &members);
        assert_eq!(class, 1);
    }

    #[test]
    fn a_tied_vote_goes_to_the_higher_mean_probability() {
        let members = vec![vec![0.9, 0.1], vec![0.4, 0.6]];
        assert_eq!(Vote::Majority.decide(&own_classes(&members), &members).0, 0);
        let members = vec![vec![0.51, 0.49], vec![0.1, 0.9]];
        assert_eq!(Vote::Majority.decide(&own_classes(&members), &members).0, 1);
    }

    #[test]
    fn one_member_is_its_own_prediction_even_where_probabilities_round_equal() {
        // The member's class comes from its scores, which can differ where the rounded
        // probabilities do not.
        let members = vec![vec![0.5, 0.5]];
        assert_eq!(
            Vote::Majority.decide(&[1], &members),
            (1, members[0].clone())
        );
    }
}
