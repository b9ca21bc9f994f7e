//! The detection spec: which page elements are error banners and where the
//! page bridge reads text and identity. The bridge holds no AWS knowledge of
//! its own; it applies this spec, so a console markup change is a core change.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectionSpec {
    pub banners: Vec<BannerRule>,
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
    /// (`1q84n` flashbar, `mx3cw` alert), so selectors match on that part only.
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
            ],
            identity: IdentitySelectors {
                user_button: "#nav-usernameMenu".into(),
                user_title: "#nav-usernameMenu span[title]".into(),
                meta_region: "meta#awsc-mezz-region".into(),
                user_info_cookie: "aws-userInfo".into(),
            },
        }
    }
}
