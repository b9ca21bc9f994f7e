//! The detection spec: which page elements are error banners and where the
//! page bridge reads text, nearby form fields and identity. The bridge holds
//! no AWS knowledge of its own; it applies this spec, so a console markup
//! change is a core change.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectionSpec {
    pub banners: Vec<BannerRule>,
    pub fields: FieldSelectors,
    pub identity: IdentitySelectors,
}

/// One kind of error banner. `header` and `content` are looked up inside the
/// banner; the Diagnose control goes after the content, inside its parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BannerRule {
    pub kind: String,
    pub selector: String,
    pub header: String,
    pub content: String,
}

/// How the bridge finds "visible form fields near the error": the closest
/// enclosing `scope` of the banner (else the whole document), each `field`
/// in it, its `label` and its first `value` control (an input's value or a
/// select trigger's text). Password and hidden inputs are never read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldSelectors {
    pub scope: String,
    pub field: String,
    pub label: String,
    pub value: String,
    /// At most this many fields per snapshot, in document order.
    pub max_fields: u32,
    /// Longer labels and values are cut to this many characters.
    pub max_chars: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentitySelectors {
    pub user_button: String,
    pub user_title: String,
    pub meta_region: String,
    pub user_info_cookie: String,
}

impl DetectionSpec {
    /// Cloudscape's hashed class names keep a stable component hash
    /// (`1q84n` flashbar, `mx3cw` alert, `14mhv` form field, `1i0s3` form),
    /// so selectors match on that part only. The `awsui-*-type-error` rules
    /// cover consoles still on the older AWS-UI components.
    pub fn builtin() -> Self {
        let rule = |kind: &str, selector: &str, header: &str, content: &str| BannerRule {
            kind: kind.into(),
            selector: selector.into(),
            header: header.into(),
            content: content.into(),
        };
        DetectionSpec {
            banners: vec![
                rule(
                    "flashbar",
                    r#"[data-analytics-flashbar="error"]"#,
                    r#"[class*="awsui_flash-header_1q84n"]"#,
                    r#"[class*="awsui_flash-content_1q84n"]"#,
                ),
                rule(
                    "alert",
                    r#"[data-analytics-alert="error"]"#,
                    r#"[class*="awsui_header_mx3cw"]"#,
                    r#"[class*="awsui_content_mx3cw"]"#,
                ),
                rule(
                    "field",
                    "[data-analytics-field-error]",
                    r#"[class*="awsui_label_14mhv"]"#,
                    r#"[class*="awsui_error__message_14mhv"]"#,
                ),
                rule(
                    "legacy-flash",
                    ".awsui-flash-type-error",
                    ".awsui-flash-header",
                    ".awsui-flash-content",
                ),
                rule(
                    "legacy-alert",
                    ".awsui-alert-type-error",
                    ".awsui-alert-header",
                    ".awsui-alert-content",
                ),
            ],
            fields: FieldSelectors {
                scope: r#"form, [role="dialog"], [class*="awsui_root_1i0s3"]"#.into(),
                field: "[data-analytics-field-label]".into(),
                label: r#"[class*="awsui_label_14mhv"]"#.into(),
                value: r#"input:not([type="password"]):not([type="hidden"]), textarea, button[aria-haspopup="listbox"]"#.into(),
                max_fields: 20,
                max_chars: 500,
            },
            identity: IdentitySelectors {
                user_button: "#nav-usernameMenu".into(),
                user_title: "#nav-usernameMenu span[title]".into(),
                meta_region: "meta#awsc-mezz-region".into(),
                user_info_cookie: "aws-userInfo".into(),
            },
        }
    }
}
