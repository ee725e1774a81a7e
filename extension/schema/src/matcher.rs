//! Which experiments apply to a flag: a pure function of (flag, labels, now, random draw).
//!
//! An experiment matches when its flag (exact or glob) matches, every selector key is present in
//! the labels with one of its values matching (globs allowed), and `now` lies in `[start, end)`.
//! The rate is applied with one draw in `0..1` per flag evaluation: an experiment is selected when
//! `draw < rate`, as the Failure Flags SDKs do. Globs are compiled once per config, not per request:
//! exact flags are looked up in a hash map and all glob flags are tried in one pass of a
//! [`GlobSet`], so the cost of a flag no experiment names barely grows with the experiment count.

use crate::config::Experiment;
use crate::labels::{EVENT_PREFIX, EXISTS, Labels, event_path};
use chrono::{DateTime, Utc};
use globset::{Glob, GlobMatcher, GlobSet, GlobSetBuilder};
use std::collections::HashMap;
use std::sync::Arc;

/// An exact string or a compiled glob.
#[derive(Debug, Clone)]
enum Pattern {
    Exact(String),
    Glob(GlobMatcher),
    /// `exists` at an `event.` path: any value there.
    Exists,
}

impl Pattern {
    fn new(text: &str) -> Pattern {
        let is_glob = text.contains(['*', '?', '[', '{']);
        match is_glob.then(|| Glob::new(text)) {
            Some(Ok(glob)) => Pattern::Glob(glob.compile_matcher()),
            // Globs are validated when the config is parsed; anything else matches literally.
            _ => Pattern::Exact(text.to_string()),
        }
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Exact(exact) => exact == value,
            Pattern::Glob(glob) => glob.is_match(value),
            Pattern::Exists => true,
        }
    }
}

#[derive(Debug, Clone)]
struct Compiled {
    experiment: Arc<Experiment>,
    selector: Vec<(String, Vec<Pattern>)>,
}

impl Compiled {
    /// Window and selector; the flag was matched by the caller.
    fn selects(&self, labels: &Labels, now: DateTime<Utc>) -> bool {
        is_active(&self.experiment, now)
            && self.selector.iter().all(|(key, patterns)| {
                labels
                    .get(key)
                    .is_some_and(|value| patterns.iter().any(|p| p.matches(value)))
            })
    }
}

/// Whether `now` lies in the experiment's window: from `start` (inclusive) to `end` (exclusive).
pub fn is_active(experiment: &Experiment, now: DateTime<Utc>) -> bool {
    in_window(experiment.start, experiment.end, now)
}

/// Whether `now` lies from `start` (inclusive) to `end` (exclusive), either open.
pub fn in_window(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    start.is_none_or(|start| now >= start) && end.is_none_or(|end| now < end)
}

/// The experiments of one config, compiled for matching.
#[derive(Debug, Clone, Default)]
pub struct ExperimentSet {
    compiled: Vec<Compiled>,
    /// Exact flag → indexes of the experiments naming it.
    /// Looked up several times an invocation: a fast hash (the keys are the config's own flags).
    exact: HashMap<String, Vec<usize>, foldhash::fast::RandomState>,
    /// Every glob flag, and the experiment index of each glob.
    globs: GlobSet,
    glob_owner: Vec<usize>,
    /// Why the glob flags could not be compiled, if they could not.
    problem: Option<String>,
    /// Every `event.` selector key of these experiments, once, with its path segments: what
    /// `/next` reads from each event as labels.
    event_paths: Vec<(String, Vec<String>)>,
}

impl ExperimentSet {
    /// Compiles the experiments' flags and selectors once per config.
    pub fn compile(experiments: &[Experiment]) -> ExperimentSet {
        let mut exact: HashMap<String, Vec<usize>, foldhash::fast::RandomState> =
            HashMap::default();
        let mut globs = GlobSetBuilder::new();
        let mut glob_owner = Vec::new();
        for (index, experiment) in experiments.iter().enumerate() {
            match Pattern::new(&experiment.flag) {
                Pattern::Glob(matcher) => {
                    globs.add(matcher.glob().clone());
                    glob_owner.push(index);
                }
                Pattern::Exact(flag) => exact.entry(flag).or_default().push(index),
                // Pattern::new never makes it (it is a selector value only).
                Pattern::Exists => {}
            }
        }
        // Each glob compiled on its own when the config was parsed; a set of them cannot fail in
        // practice. If it does, no glob flag matches and the reason is kept for the caller's log.
        let (globs, problem) = match globs.build() {
            Ok(globs) => (globs, None),
            Err(err) => {
                glob_owner.clear();
                (
                    GlobSet::empty(),
                    Some(format!("cannot compile the experiments' flag globs: {err}")),
                )
            }
        };
        let compiled = experiments
            .iter()
            .map(|experiment| Compiled {
                selector: experiment
                    .selector
                    .iter()
                    .map(|(key, values)| {
                        let at_event_path = key.starts_with(EVENT_PREFIX);
                        let patterns = values
                            .iter()
                            .map(|v| match (at_event_path, v.as_str()) {
                                (true, EXISTS) => Pattern::Exists,
                                _ => Pattern::new(v),
                            })
                            .collect();
                        (key.clone(), patterns)
                    })
                    .collect(),
                experiment: Arc::new(experiment.clone()),
            })
            .collect();
        let mut event_paths: Vec<(String, Vec<String>)> = Vec::new();
        for key in experiments.iter().flat_map(|e| e.selector.keys()) {
            if let Some(segments) = event_path(key)
                && !event_paths.iter().any(|(known, _)| known == key)
            {
                let segments = segments.into_iter().map(str::to_string).collect();
                event_paths.push((key.clone(), segments));
            }
        }
        ExperimentSet {
            compiled,
            exact,
            globs,
            glob_owner,
            problem,
            event_paths,
        }
    }

    /// Indexes of the experiments whose flag matches, in config order.
    fn candidates(&self, flag: &str) -> Vec<usize> {
        let mut found: Vec<usize> = self.exact.get(flag).cloned().unwrap_or_default();
        if !self.glob_owner.is_empty() {
            let before = found.len();
            found.extend(
                self.globs
                    .matches(flag)
                    .into_iter()
                    .filter_map(|g| self.glob_owner.get(g).copied()),
            );
            if found.len() > before {
                found.sort_unstable();
            }
        }
        found
    }

    /// The `event.` selector keys of these experiments with their path segments.
    pub fn event_paths(&self) -> &[(String, Vec<String>)] {
        &self.event_paths
    }

    /// Why some experiments can never match (their flag globs failed to compile), if so.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// Whether there is no experiment at all.
    pub fn is_empty(&self) -> bool {
        self.compiled.is_empty()
    }

    /// How many experiments there are.
    pub fn len(&self) -> usize {
        self.compiled.len()
    }

    /// Whether any experiment names a flag matching `flag`, whatever its labels and window. Lets
    /// the proxies keep their fast path when nothing can apply.
    pub fn targets(&self, flag: &str) -> bool {
        self.exact.contains_key(flag) || (!self.glob_owner.is_empty() && self.globs.is_match(flag))
    }

    /// Whether some experiment on `flag` could select a request of this function at `now`: its
    /// window holds `now`, and each selector key is either one of `per_request` (labels only a
    /// request tells, taken to match) or matched by `known` (the labels every request of the
    /// function carries). A proxy that sees `false` has nothing to read: no effect can need it.
    pub fn could_apply(
        &self,
        flag: &str,
        known: &Labels,
        per_request: &[&str],
        now: DateTime<Utc>,
    ) -> bool {
        if !self.targets(flag) {
            return false;
        }
        self.candidates(flag)
            .into_iter()
            .filter_map(|index| self.compiled.get(index))
            .any(|c| {
                is_active(&c.experiment, now)
                    && c.selector.iter().all(|(key, patterns)| {
                        per_request.contains(&key.as_str())
                            || key.starts_with(EVENT_PREFIX)
                            || known
                                .get(key)
                                .is_some_and(|value| patterns.iter().any(|p| p.matches(value)))
                    })
            })
    }

    /// Experiments matching the flag, labels and time, in config order. The rate is not applied
    /// (this is what the SDK endpoint returns: the SDK applies the rate itself).
    pub fn active<'a>(
        &'a self,
        flag: &'a str,
        labels: &'a Labels,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = &'a Arc<Experiment>> + 'a {
        self.candidates(flag)
            .into_iter()
            .filter_map(|index| self.compiled.get(index))
            .filter(move |c| c.selects(labels, now))
            .map(|c| &c.experiment)
    }

    /// Experiments that apply to this request: active and selected by `draw` (in `0..1`).
    pub fn select(
        &self,
        flag: &str,
        labels: &Labels,
        now: DateTime<Utc>,
        draw: f64,
    ) -> Vec<Arc<Experiment>> {
        self.active(flag, labels, now)
            .filter(|e| draw < e.rate.value())
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn set(yaml: &str) -> ExperimentSet {
        let config = Config::parse_strict(yaml).expect("valid config");
        ExperimentSet::compile(&config.experiments)
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, hour, 0, 0).unwrap()
    }

    const SELECTOR: &str = r#"
experiments:
  - name: slow-orders
    flag: dependency-*.example.com
    selector: {function-name: [checkout, "pay*"], method: POST}
    effect: {latency: 100}
"#;

    #[test]
    fn flag_globs_and_selectors_must_all_match() {
        let set = set(SELECTOR);
        let hit = labels(&[("function-name", "payments"), ("method", "POST")]);
        assert_eq!(
            set.select("dependency-api.example.com", &hit, at(10), 0.5)
                .len(),
            1
        );
        assert!(set.targets("dependency-api.example.com"));
        assert!(!set.targets("egress"));
        // wrong flag, a selector value that does not match, a missing selector key
        assert!(
            set.select("dependency-api.example.org", &hit, at(10), 0.5)
                .is_empty()
        );
        let wrong_method = labels(&[("function-name", "checkout"), ("method", "GET")]);
        assert!(
            set.select("dependency-api.example.com", &wrong_method, at(10), 0.5)
                .is_empty()
        );
        let missing = labels(&[("function-name", "checkout")]);
        assert!(
            set.select("dependency-api.example.com", &missing, at(10), 0.5)
                .is_empty()
        );
    }

    #[test]
    fn rate_and_window_decide() {
        let set = set(r#"
experiments:
  - name: quarter
    flag: ingress
    rate: 25%
    start: 2026-11-21T10:00:00Z
    duration: 2h
    effect: {exception: boom}
"#);
        let none = Labels::new();
        assert_eq!(set.select("ingress", &none, at(10), 0.24).len(), 1);
        assert!(set.select("ingress", &none, at(10), 0.25).is_empty());
        assert!(
            set.select("ingress", &none, at(9), 0.0).is_empty(),
            "not started"
        );
        assert!(
            set.select("ingress", &none, at(12), 0.0).is_empty(),
            "ended"
        );
        assert_eq!(set.active("ingress", &none, at(11)).count(), 1);
    }

    #[test]
    fn exact_flags_are_not_globs() {
        let set = set("experiments: [{name: a, flag: ingress, effect: {latency: 1}}]");
        assert!(
            set.select("ingress-x", &Labels::new(), at(1), 0.0)
                .is_empty()
        );
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn exact_and_glob_flags_keep_config_order() {
        let set = set(r#"
experiments:
  - {name: first, flag: "dep-*", effect: {latency: 1}}
  - {name: second, flag: dep-a, effect: {latency: 1}}
  - {name: third, flag: "*-a", effect: {latency: 1}}
  - {name: other, flag: dep-b, effect: {latency: 1}}
"#);
        let none = Labels::new();
        let names: Vec<&str> = set
            .active("dep-a", &none, at(1))
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["first", "second", "third"]);
    }

    #[test]
    fn only_experiments_that_can_select_this_function_count() {
        let config = Config::parse_strict(
            r#"
experiments:
  - {name: other, flag: ingress, selector: {function-name: billing}, effect: {latency: 10}}
  - {name: ended, flag: ingress, start: '2020-01-01T00:00:00Z', end: '2020-01-02T00:00:00Z', effect: {latency: 10}}
  - {name: later, flag: response, start: '2030-01-01T00:00:00Z', effect: {latency: 10}}
  - {name: sqs-only, flag: http-ingress, selector: {event-source: sqs, team: payments}, effect: {latency: 10}}
"#,
        )
        .expect("valid");
        let set = ExperimentSet::compile(&config.experiments);
        let known: Labels = [
            ("function-name".to_string(), "orders".to_string()),
            ("team".to_string(), "payments".to_string()),
        ]
        .into();
        let per_request = ["event-source", "method", "path"];
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        assert!(!set.could_apply("ingress", &known, &per_request, now));
        assert!(!set.could_apply("response", &known, &per_request, now));
        assert!(set.could_apply(
            "response",
            &known,
            &per_request,
            Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
        ));
        // event-source is only known per request: the experiment may apply.
        assert!(set.could_apply("http-ingress", &known, &per_request, now));
        let other_team: Labels = [("team".to_string(), "search".to_string())].into();
        assert!(!set.could_apply("http-ingress", &other_team, &per_request, now));
        assert!(!set.could_apply("egress", &known, &per_request, now));
    }

    proptest! {
        #[test]
        fn matching_never_panics(
            flag in ".{0,40}",
            pattern in "[a-z*?.\\-]{1,20}",
            key in "[a-z\\-]{1,10}",
            value in ".{0,20}",
            draw in 0.0f64..1.0,
        ) {
            let yaml = format!(
                "experiments: [{{name: p, flag: {:?}, selector: {{{:?}: [{:?}]}}, effect: {{latency: 1}}}}]",
                pattern, key, pattern
            );
            if let Ok(config) = Config::parse(&yaml) {
                let set = ExperimentSet::compile(&config.experiments);
                let labels = labels(&[(key.as_str(), value.as_str())]);
                let _ = set.select(&flag, &labels, at(1), draw);
            }
        }

        #[test]
        fn a_matching_experiment_is_selected_exactly_below_its_rate(rate in 0.0f64..=1.0, draw in 0.0f64..1.0) {
            let yaml = format!("experiments: [{{name: r, flag: ingress, rate: {rate}, effect: {{latency: 1}}}}]");
            let set = set(&yaml);
            let selected = !set.select("ingress", &Labels::new(), at(1), draw).is_empty();
            prop_assert_eq!(selected, draw < rate);
        }
    }
}
