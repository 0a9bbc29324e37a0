//! burn-optim's optimizers and learning-rate schedulers, built from the experiment config.

use burn::grad_clipping::GradientClippingConfig;
use burn::lr_scheduler::LrSchedulerConfig;
use burn::lr_scheduler::linear::LinearLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::lr_scheduler::sequential::SequentialLrSchedulerConfig;
use burn::optim::{AdafactorConfig, AdamWConfig, ModuleOptimizer};

use crate::config::{OptimizerConfig, OptimizerKind, ScheduleConfig, ScheduleKind};
use crate::error::ConfigError;

/// The configured optimizer (AdamW or Adafactor), with gradient-norm clipping if set.
pub fn build_optimizer(config: &OptimizerConfig) -> ModuleOptimizer {
    let clipping = config.grad_clip_norm.map(GradientClippingConfig::Norm);
    match config.kind {
        OptimizerKind::Adamw => {
            let s = &config.adamw;
            AdamWConfig::new()
                .with_beta_1(s.beta1)
                .with_beta_2(s.beta2)
                .with_epsilon(s.epsilon)
                .with_weight_decay(s.weight_decay)
                .with_grad_clipping(clipping)
                .init()
        }
        OptimizerKind::Adafactor => {
            let s = &config.adafactor;
            AdafactorConfig::new()
                .with_decay_rate(s.decay_rate)
                .with_clip_threshold(s.clip_threshold)
                .with_relative_step(s.relative_step)
                .with_scale_parameter(s.scale_parameter)
                .with_weight_decay(s.weight_decay)
                .with_grad_clipping(clipping)
                .init()
        }
    }
}

/// The learning-rate schedule over `steps` optimizer steps, peak `lr`.
///
/// `linear` at step `s` (1-based) is `lr * s / w` during the `w` warm-up steps, `lr` while it
/// is held, then falls linearly to `final_lr` over the last `decay_steps`, reaching it at the
/// last step. It is composed from burn's linear and constant schedulers with a sequential
/// scheduler switching between the phases; a phase of no steps is left out.
pub fn build_schedule(
    config: &ScheduleConfig,
    lr: f64,
    steps: usize,
) -> Result<ModuleLrScheduler, ConfigError> {
    let phases = match config.kind {
        ScheduleKind::Constant => vec![(steps, LrSchedulerConfig::Constant(lr))],
        ScheduleKind::Linear => {
            let warmup = config.warmup_steps;
            let decay = config.decay_steps.unwrap_or(steps - warmup);
            vec![
                (warmup, ramp(lr / warmup as f64, lr, warmup)),
                (steps - warmup - decay, LrSchedulerConfig::Constant(lr)),
                (
                    decay,
                    ramp(
                        lr + (config.final_lr - lr) / decay as f64,
                        config.final_lr,
                        decay,
                    ),
                ),
            ]
        }
    };
    let (lengths, parts): (Vec<usize>, Vec<LrSchedulerConfig>) =
        phases.into_iter().filter(|(n, _)| *n > 0).unzip();
    // Each later phase takes over once the steps of those before it are done.
    let milestones = lengths[..lengths.len().saturating_sub(1)]
        .iter()
        .scan(0, |done, n| {
            *done += n;
            Some(*done)
        })
        .collect();
    SequentialLrSchedulerConfig::new(parts, milestones)
        .init()
        .map_err(|reason| ConfigError::Schedule { reason })
}

/// `n` steps going linearly from `first` to `last` (both included); one step is `last`.
fn ramp(first: f64, last: f64, n: usize) -> LrSchedulerConfig {
    match n {
        0 | 1 => LrSchedulerConfig::Constant(last),
        n => LrSchedulerConfig::Linear(LinearLrSchedulerConfig::new(first, last, n - 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(config: &ScheduleConfig, lr: f64, steps: usize) -> Vec<f64> {
        let mut schedule = build_schedule(config, lr, steps).unwrap();
        (0..steps).map(|_| schedule.step().base()).collect()
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn constant_schedule_is_flat() {
        assert!(close(&rates(&ScheduleConfig::default(), 0.3, 4), &[0.3; 4]));
    }

    #[test]
    fn linear_schedule_warms_up_then_decays_to_final_lr_at_the_last_step() {
        let config = ScheduleConfig {
            kind: ScheduleKind::Linear,
            warmup_steps: 4,
            final_lr: 0.0,
            decay_steps: None,
        };
        let got = rates(&config, 0.4, 8);
        assert!(
            close(&got, &[0.1, 0.2, 0.3, 0.4, 0.3, 0.2, 0.1, 0.0]),
            "{got:?}"
        );
        let no_warmup = ScheduleConfig {
            warmup_steps: 0,
            ..config.clone()
        };
        let got = rates(&no_warmup, 0.4, 4);
        assert!(close(&got, &[0.3, 0.2, 0.1, 0.0]), "{got:?}");
        let short = ScheduleConfig {
            warmup_steps: 1,
            final_lr: 0.1,
            ..config
        };
        let got = rates(&short, 0.4, 2);
        assert!(close(&got, &[0.4, 0.1]), "{got:?}");
    }

    #[test]
    fn a_held_rate_decays_over_the_last_decay_steps() {
        let config = ScheduleConfig {
            kind: ScheduleKind::Linear,
            warmup_steps: 2,
            final_lr: 0.0,
            decay_steps: Some(4),
        };
        let got = rates(&config, 0.4, 9);
        assert!(
            close(&got, &[0.2, 0.4, 0.4, 0.4, 0.4, 0.3, 0.2, 0.1, 0.0]),
            "{got:?}"
        );
    }

    #[test]
    fn a_constant_run_resumes_into_a_decay_appended_after_its_steps() {
        let constant = ScheduleConfig::default();
        let mut first = build_schedule(&constant, 0.4, 3).unwrap();
        for _ in 0..3 {
            first.step();
        }
        let record = burn::lr_scheduler::LrSchedulerRecord::from_bytes(
            first.to_record().into_bytes().unwrap(),
        )
        .unwrap();
        let extended = ScheduleConfig {
            kind: ScheduleKind::Linear,
            decay_steps: Some(4),
            ..constant
        };
        assert!(close(&rates(&extended, 0.4, 7)[..3], &[0.4; 3]));
        let mut resumed = build_schedule(&extended, 0.4, 7)
            .unwrap()
            .load_record(record);
        let rest: Vec<f64> = (0..4).map(|_| resumed.step().base()).collect();
        assert!(close(&rest, &[0.3, 0.2, 0.1, 0.0]), "{rest:?}");
    }

    #[test]
    fn schedule_state_round_trips_through_its_record() {
        let config = ScheduleConfig {
            kind: ScheduleKind::Linear,
            warmup_steps: 2,
            final_lr: 0.0,
            decay_steps: None,
        };
        let mut first = build_schedule(&config, 0.4, 6).unwrap();
        for _ in 0..3 {
            first.step();
        }
        let bytes = first.to_record().into_bytes().unwrap();
        let record = burn::lr_scheduler::LrSchedulerRecord::from_bytes(bytes).unwrap();
        let mut resumed = build_schedule(&config, 0.4, 6).unwrap().load_record(record);
        for _ in 0..3 {
            assert_eq!(first.step().base(), resumed.step().base());
        }
    }

    #[test]
    fn burn_refuses_a_peak_rate_above_one_for_linear_schedules() {
        let config = ScheduleConfig {
            kind: ScheduleKind::Linear,
            warmup_steps: 2,
            final_lr: 0.0,
            decay_steps: None,
        };
        let Err(e) = build_schedule(&config, 3.0, 6) else {
            panic!("a peak rate of 3 is accepted")
        };
        let e = e.to_string();
        assert!(
            e.contains("config table `schedule`") && e.contains("at most 1"),
            "{e}"
        );
    }
}
