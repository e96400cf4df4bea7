use thiserror::Error;

/// A method that cannot be built as asked. Every variant says which method, form or field.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ZooError {
    #[error("unknown method `{name}`; known methods: {known}")]
    UnknownMethod { name: String, known: String },

    #[error("{form}: {message}")]
    Invalid { form: String, message: String },

    #[error("{form}: budget {budget} does not fit: {why}")]
    BudgetDoesNotFit {
        form: String,
        budget: usize,
        why: String,
    },

    #[error("no budget of {form} reaches {target}: {why}")]
    TargetOutOfReach {
        form: String,
        target: String,
        why: String,
    },

    #[error("method spec `{spec}`: {message}")]
    Spec { spec: String, message: String },
}

pub type Result<T, E = ZooError> = std::result::Result<T, E>;

pub(crate) fn invalid(form: &str, message: impl Into<String>) -> ZooError {
    ZooError::Invalid {
        form: form.to_string(),
        message: message.into(),
    }
}

pub(crate) fn does_not_fit(form: &str, budget: usize, why: impl Into<String>) -> ZooError {
    ZooError::BudgetDoesNotFit {
        form: form.to_string(),
        budget,
        why: why.into(),
    }
}
