//! An error with its causes, as one line of text (below every module that reports one).

/// An error and its causes on one line, each said once (some errors print their source in
/// their own message): for warnings and for errors that travel as text.
pub fn one_line(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
}
