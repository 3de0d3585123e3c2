//! The accuracy table: `error_analysis.txt` in the vendor's spirit (one
//! row per tensor, entire and single error as cosine and Euclidean
//! distance), followed by the worst layers.

use std::fmt::Write;

use super::Row;

/// The analysis of one input set.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// One row per matched tensor, in execution order.
    pub rows: Vec<Row>,
    /// Names of the quantized model's outputs.
    pub outputs: Vec<String>,
}

impl Report {
    /// The row with the lowest single-error cosine (the layer that loses
    /// the most accuracy on its own).
    pub fn worst_single(&self) -> Option<&Row> {
        self.rows
            .iter()
            .filter(|r| r.op != "Input")
            .filter_map(|r| r.single.map(|e| (r, e.cos)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(r, _)| r)
    }

    /// The row with the lowest entire-error cosine.
    pub fn worst_entire(&self) -> Option<&Row> {
        self.rows
            .iter()
            .min_by(|a, b| a.entire.cos.total_cmp(&b.entire.cos))
    }

    /// The row of tensor `name`.
    pub fn row(&self, name: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.tensor == name)
    }

    /// The table as text.
    pub fn to_text(&self) -> String {
        let label = |r: &Row| format!("[{}] {}", r.op, r.tensor);
        let width = self
            .rows
            .iter()
            .map(|r| label(r).len())
            .max()
            .unwrap_or(10)
            .clamp(20, 80);
        let mut s = String::new();
        s.push_str("# error analysis: quantized model against the float model\n");
        s.push_str(
            "#   entire: the quantized model run end to end (errors accumulate layer by layer)\n",
        );
        s.push_str("#   single: each layer fed the float model's inputs (the layer's own error)\n");
        s.push_str(
            "#   cos: cosine similarity, euc: Euclidean distance; '-' where not computable\n\n",
        );
        let _ = writeln!(s, "{:<width$}  {:^21}  {:^21}", "layer", "entire", "single");
        let _ = writeln!(
            s,
            "{:<width$}  {:>9} {:>11}  {:>9} {:>11}",
            "", "cos", "euc", "cos", "euc"
        );
        let _ = writeln!(s, "{}", "-".repeat(width + 46));
        for r in &self.rows {
            let single = match r.single {
                Some(e) => format!("{:>9.5} {:>11.5}", e.cos, e.euc),
                None => format!("{:>9} {:>11}", "-", "-"),
            };
            let _ = writeln!(
                s,
                "{:<width$}  {:>9.5} {:>11.5}  {single}",
                label(r),
                r.entire.cos,
                r.entire.euc
            );
        }
        s.push('\n');
        for name in &self.outputs {
            if let Some(r) = self.row(name) {
                let _ = writeln!(s, "output {name}: cos {:.5}", r.entire.cos);
            }
        }
        if let Some(r) = self.worst_single() {
            let cos = r.single.map(|e| e.cos).unwrap_or(f64::NAN);
            let _ = writeln!(s, "worst layer (single error): {} cos {cos:.5}", label(r));
        }
        if let Some(r) = self.worst_entire() {
            let _ = writeln!(
                s,
                "worst tensor (entire error): {} cos {:.5}",
                label(r),
                r.entire.cos
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accuracy::TensorError;

    fn row(op: &str, t: &str, e: f64, s: Option<f64>) -> Row {
        Row {
            op: op.into(),
            tensor: t.into(),
            entire: TensorError { cos: e, euc: 1.0 },
            single: s.map(|c| TensorError { cos: c, euc: 0.5 }),
        }
    }

    #[test]
    fn table_names_the_worst_layers() {
        let r = Report {
            rows: vec![
                row("Input", "x", 0.9, Some(0.9)),
                row("Conv", "c1", 0.99, Some(0.995)),
                row("Conv", "c2", 0.97, Some(0.98)),
                row("Softmax", "p", 0.98, None),
            ],
            outputs: vec!["p".into()],
        };
        assert_eq!(r.worst_single().unwrap().tensor, "c2");
        assert_eq!(r.worst_entire().unwrap().tensor, "x");
        let text = r.to_text();
        assert!(
            text.contains("worst layer (single error): [Conv] c2 cos 0.98000"),
            "{text}"
        );
        assert!(text.contains("output p: cos 0.98000"), "{text}");
        let line = text.lines().find(|l| l.starts_with("[Softmax] p")).unwrap();
        assert!(line.trim_end().ends_with('-'), "{line}");
    }
}
