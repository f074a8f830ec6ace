//! The loop's exception handler: [`ExceptionContext`] (asyncio's `context`
//! dict), [`ExceptionHandler`] and [`default_exception_handler`].

use std::sync::Arc;

use crate::error::Error;
use crate::runtime::event_loop::EventLoop;

/// A custom exception handler: receives the loop and the context.
pub type ExceptionHandler = Arc<dyn Fn(&EventLoop, &ExceptionContext) + Send + Sync>;

/// What went wrong, as handed to the exception handler (asyncio's `context` dict).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExceptionContext {
    /// The message, e.g. `Task exception was never retrieved`.
    pub message: String,
    /// The error, if there is one.
    pub error: Option<Error>,
    /// The name of the task concerned, if any.
    pub task: Option<String>,
    /// The name of the callback concerned, if any.
    pub handle: Option<String>,
}

impl ExceptionContext {
    /// A context with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        ExceptionContext {
            message: message.into(),
            error: None,
            task: None,
            handle: None,
        }
    }

    /// Adds the error.
    pub fn with_error(mut self, error: Error) -> Self {
        self.error = Some(error);
        self
    }

    /// Adds the task name.
    pub fn with_task_name(mut self, name: impl Into<String>) -> Self {
        self.task = Some(name.into());
        self
    }

    /// Adds the callback name.
    pub fn with_handle_name(mut self, name: impl Into<String>) -> Self {
        self.handle = Some(name.into());
        self
    }
}

/// The default exception handler: logs `ctx` at ERROR level via `tracing`.
///
/// # Examples
///
/// ```
/// use aioproto::{ExceptionContext, default_exception_handler};
/// default_exception_handler(&ExceptionContext::new("something failed"));
/// ```
pub fn default_exception_handler(ctx: &ExceptionContext) {
    tracing::error!(
        target: "aioproto::event_loop",
        error = ctx.error.as_ref().map(tracing::field::display),
        task = ctx.task.as_deref(),
        handle = ctx.handle.as_deref(),
        "{}",
        ctx.message
    );
}
