//! The printer over writers handed to it: what goes to which stream, what a failed write
//! leaves, and what the prompt reads. (Operations printing through it: `ops::tests`.)

use super::*;

/// A printer over fresh buffers (stdout, stderr), answering prompts from `stdin` if given.
fn over_buffers(format: Format, stdin: Option<&str>) -> (Printer, Buffer, Buffer) {
    let (out, err) = (Buffer::default(), Buffer::default());
    let stdin = stdin.map(|s| {
        Box::new(std::io::Cursor::new(s.as_bytes().to_vec())) as Box<dyn std::io::BufRead + Send>
    });
    let streams = Streams::from_write(Box::new(out.clone()), Box::new(err.clone()), stdin);
    let printer = Printer {
        format,
        ..Printer::over(streams)
    };
    (printer, out, err)
}

/// A writer that fails every write with `kind`.
struct Failing(std::io::ErrorKind);

impl std::io::Write for Failing {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(self.0.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Err(self.0.into())
    }
}

fn empty_plan() -> PlanDoc {
    let cluster = crate::model::ClusterId::Sc("127.0.0.1:9003".to_string());
    PlanDoc::new(crate::plan::Plan::default(), &cluster, None, None)
}

#[test]
fn messages_keep_their_own_line_breaks_and_escape_the_rest() {
    assert_eq!(inert_message("\nDone.\n"), "\nDone.\n");
    assert_eq!(
        inert_message("SPU 1 (a\n::error::x\u{1b}[2J) done\n"),
        "SPU 1 (a\\n::error::x\\e[2J) done\n"
    );
    assert_eq!(inert_message(""), "");
}

#[test]
fn data_goes_to_stdout_and_a_warning_to_stderr_escaped() {
    let (printer, out, err) = over_buffers(Format::Text, None);
    printer.data("one\n");
    printer.warn("SPU 7 (a\u{1b}[2J\u{2028}b) is odd", Some("hint: look"));
    assert_eq!(out.text(), "one\n");
    assert_eq!(
        err.text(),
        "warning: SPU 7 (a\\e[2J\\u{2028}b) is odd\nhint: look\n"
    );
    assert!(!printer.stdout_failed());
}

#[test]
fn a_warning_in_color_paints_only_the_tool_s_words() {
    let (printer, _, err) = over_buffers(Format::Text, None);
    let printer = Printer {
        style: Style { color: true },
        ..printer
    };
    printer.warn("x\u{1b}y", None);
    assert_eq!(err.text(), "\u{1b}[33mwarning:\u{1b}[0m x\\ey\n");
}

#[test]
fn annotations_go_to_stderr_beside_a_document_and_to_stdout_with_text() {
    let cluster = crate::model::ClusterId::Sc("127.0.0.1:9003".to_string());
    let mut plan = crate::plan::Plan::default();
    plan.blockers.push(crate::plan::Blocker::ScTooOld {
        version: "0.11.0".to_string(),
    });
    let doc = PlanDoc::new(plan, &cluster, None, None);
    for (format, on_stdout) in [(Format::Text, true), (Format::Json, false)] {
        let (printer, out, err) = over_buffers(format, None);
        let printer = Printer {
            annotations: true,
            ..printer
        };
        printer.plan(&doc);
        let (document, beside) = match on_stdout {
            true => (out.text(), err.text()),
            false => (err.text(), out.text()),
        };
        assert!(document.contains("::error"), "{format:?}: {document}");
        assert!(!beside.contains("::error"), "{format:?}: {beside}");
    }
}

#[test]
fn a_plan_prints_as_text_or_as_its_json_document() {
    let doc = empty_plan();
    let (text, out, err) = over_buffers(Format::Text, None);
    text.plan(&doc);
    assert_eq!(
        out.text(),
        render::text::plan(&doc, &Style { color: false })
    );
    assert_eq!(err.text(), "");

    let (json, out, _) = over_buffers(Format::Json, None);
    json.plan(&doc);
    let printed: serde_json::Value = serde_json::from_str(&out.text()).expect("one JSON document");
    assert_eq!(printed, serde_json::to_value(&doc).unwrap());
}

#[test]
fn several_json_plans_are_one_array() {
    let doc = empty_plan();
    let (printer, out, _) = over_buffers(Format::Json, None);
    let mut stream = printer.plans(2);
    stream.push(&doc);
    stream.push(&doc);
    assert_eq!(out.text(), "", "nothing before the array is complete");
    stream.finish();
    let printed: Vec<serde_json::Value> = serde_json::from_str(&out.text()).unwrap();
    assert_eq!(printed.len(), 2);
}

#[test]
fn approval_is_a_yes_read_from_stdin_and_nothing_else() {
    let doc = empty_plan();
    let (printer, out, err) = over_buffers(Format::Text, Some("yes\n"));
    assert!(printer.approve(&doc).is_ok());
    assert!(
        err.text().ends_with("Only 'yes' will be accepted: "),
        "{}",
        err.text()
    );
    assert_eq!(out.text(), "", "the prompt is not data");

    for answer in ["no\n", "YES\n", ""] {
        let (printer, _, _) = over_buffers(Format::Text, Some(answer));
        assert!(
            matches!(printer.approve(&doc), Err(Error::Cancelled)),
            "{answer:?}"
        );
    }
}

#[test]
fn with_no_one_to_ask_there_is_no_approval_and_no_prompt() {
    let (printer, _, err) = over_buffers(Format::Text, None);
    assert!(matches!(
        printer.approve(&empty_plan()),
        Err(Error::NoApproval)
    ));
    assert_eq!(err.text(), "");
}

#[test]
fn a_document_s_reader_still_sees_the_plan_it_approves_on_stderr() {
    let doc = empty_plan();
    let (printer, out, err) = over_buffers(Format::Json, Some("no\n"));
    assert!(printer.approve(&doc).is_err());
    assert_eq!(out.text(), "");
    assert!(err
        .text()
        .starts_with(&render::text::plan(&doc, &Style { color: false })));
}

#[test]
fn a_failed_write_to_stdout_is_remembered_and_which_failure_it_was() {
    for (kind, reader_left) in [
        (std::io::ErrorKind::BrokenPipe, true),
        (std::io::ErrorKind::StorageFull, false),
    ] {
        let streams =
            Streams::from_write(Box::new(Failing(kind)), Box::new(Buffer::default()), None);
        let printer = Printer::over(streams);
        assert!(!printer.stdout_failed());
        printer.data("lost\n");
        assert!(printer.stdout_failed(), "{kind:?}");
        assert_eq!(printer.stdout_reader_left(), reader_left, "{kind:?}");
        // a clone shares what its streams met
        assert!(printer.clone().stdout_failed());
    }
}

#[test]
fn a_failed_write_to_stderr_is_not_a_failed_output() {
    let streams = Streams::from_write(
        Box::new(Buffer::default()),
        Box::new(Failing(std::io::ErrorKind::BrokenPipe)),
        None,
    );
    let printer = Printer::over(streams);
    printer.note("gone\n");
    assert!(!printer.stdout_failed());
}

#[tokio::test]
async fn collected_keeps_stdout_and_lets_stderr_through() {
    let (printer, out, err) = over_buffers(Format::Text, None);
    let ((), kept) = collected(async {
        printer.data("kept\n");
        printer.note("shown\n");
    })
    .await;
    assert_eq!(kept, "kept\n");
    assert_eq!(out.text(), "");
    assert_eq!(err.text(), "shown\n");
    printer.data(&kept);
    assert_eq!(out.text(), "kept\n");
}

#[tokio::test]
async fn captured_keeps_both_streams() {
    let (printer, out, err) = over_buffers(Format::Text, None);
    let ((), kept_out, kept_err) = captured(async {
        printer.data("data\n");
        printer.warn("careful", None);
    })
    .await;
    assert_eq!(
        (kept_out.as_str(), kept_err.as_str()),
        ("data\n", "warning: careful\n")
    );
    assert_eq!((out.text(), err.text()), (String::new(), String::new()));
}

#[test]
fn no_progress_bar_is_drawn_over_writers() {
    let (printer, _, err) = over_buffers(Format::Text, None);
    let cluster = crate::model::ClusterId::Sc("127.0.0.1:9003".to_string());
    let bar = printer.start_apply(PROGRESS_MIN_CHANGES + 10, &cluster);
    assert!(printer.streams.progress().bar().is_none());
    drop(bar);
    assert_eq!(
        err.text(),
        format!(
            "Applying {} change(s) to sc://127.0.0.1:9003:\n",
            PROGRESS_MIN_CHANGES + 10
        )
    );
}

#[test]
fn an_error_is_rendered_once_on_stderr_escaped() {
    let (printer, out, err) = over_buffers(Format::Text, None);
    printer.error(&Error::Internal("bad \u{1b}[2J name".to_string()));
    assert_eq!(out.text(), "");
    let shown = err.text();
    assert!(shown.contains("bad \\e[2J name"), "{shown}");
    assert!(!shown.contains('\u{1b}'), "{shown}");
}

/// A writer that panics at its first write, then writes to its buffer.
struct PanicsOnce(bool, Buffer);

impl std::io::Write for PanicsOnce {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !std::mem::replace(&mut self.0, true) {
            panic!("a writer's bug");
        }
        self.1.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn output_goes_on_after_a_panic_while_writing() {
    let out = Buffer::default();
    let streams = Streams::from_write(
        Box::new(PanicsOnce(false, out.clone())),
        Box::new(Buffer::default()),
        None,
    );
    let printer = Printer::over(streams);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| printer.data("a\n")));
    assert!(caught.is_err());
    printer.data("b\n");
    assert_eq!(out.text(), "b\n");
}
