//! `{{key}}` templating. (Being written.)
