//! Identifier candidates with a priority: several places may name the same
//! key (the URL, the resource ARN, the principal ARN) and the most specific wins.

use crate::context::Identifiers;

pub(crate) mod keys {
    pub const PARTITION: &str = "aws_partition";
    pub const REGION: &str = "aws_region";
    pub const SERVICE: &str = "aws_service";
    pub const ACCOUNT: &str = "aws_account_id";
    pub const ACTION: &str = "iam_action";
    pub const PRINCIPAL_ARN: &str = "iam_principal_arn";
    pub const RESOURCE_ARN: &str = "resource_arn";
    pub const BUCKET: &str = "s3_bucket_name";
    pub const INSTANCE: &str = "ec2_instance_id";
    pub const INSTANCE_TYPE: &str = "ec2_instance_type";
    pub const AMI: &str = "ec2_ami_id";
    pub const ZONE: &str = "availability_zone";
    pub const FUNCTION: &str = "lambda_function_name";
    pub const ROLE: &str = "iam_role_name";
    pub const USER: &str = "iam_user_name";
    pub const POLICY_ARN: &str = "iam_policy_arn";
    pub const KMS_KEY: &str = "kms_key_id";
    pub const STACK: &str = "cloudformation_stack_name";
    pub const TABLE: &str = "dynamodb_table_name";
    pub const VPC: &str = "vpc_id";
    pub const SUBNET: &str = "subnet_id";
    pub const SECURITY_GROUP: &str = "security_group_id";
    pub const LOG_GROUP: &str = "log_group_name";
    pub const DB_INSTANCE: &str = "rds_db_instance_id";
    pub const ECS_CLUSTER: &str = "ecs_cluster_name";
    pub const SECRET_ARN: &str = "secret_arn";
}

/// How specific a source is; higher wins, the first seen wins a tie.
pub(crate) mod rank {
    /// The denied action names the service that refused.
    pub const ACTION: u8 = 90;
    /// Partition and region from the console host and query.
    pub const URL_LOCATION: u8 = 80;
    /// The denied principal's account: the caller's own account, which a
    /// cross-account resource's ARN (another account's secret) must not replace.
    pub const PRINCIPAL_ACCOUNT: u8 = 65;
    /// The resource the message is about (`on resource: …`, a resource ARN).
    pub const MESSAGE_RESOURCE: u8 = 60;
    /// A named resource in a tool's phrasing (`creating IAM Role (name)`).
    pub const MESSAGE_PHRASE: u8 = 55;
    /// A resource the console page shows.
    pub const URL_RESOURCE: u8 = 50;
    /// What the user typed into a labelled form field near the error.
    pub const FORM_FIELD: u8 = 45;
    /// Some other ARN in the message (a policy, a stack).
    pub const MESSAGE_OTHER: u8 = 40;
    /// The principal that was denied.
    pub const MESSAGE_PRINCIPAL: u8 = 30;
    /// The console slug of the page.
    pub const URL_SERVICE: u8 = 25;
    /// Hints such as `(Service: AmazonS3; …)`.
    pub const MESSAGE_HINT: u8 = 15;
    /// Who is signed in (navigation bar, cookie).
    pub const IDENTITY: u8 = 10;
    pub const FALLBACK: u8 = 5;
}

#[derive(Debug, Default)]
pub(crate) struct Found {
    slots: Vec<(&'static str, u8, String)>,
}

impl Found {
    pub(crate) fn put(&mut self, key: &'static str, rank: u8, value: &str) {
        if value.is_empty() {
            return;
        }
        match self.slots.iter_mut().find(|slot| slot.0 == key) {
            Some(slot) if rank > slot.1 => {
                slot.1 = rank;
                value.clone_into(&mut slot.2);
            }
            Some(_) => {}
            None => self.slots.push((key, rank, value.to_owned())),
        }
    }

    pub(crate) fn into_identifiers(self) -> Identifiers {
        self.slots
            .into_iter()
            .map(|(key, _, value)| (key.to_owned(), value))
            .collect()
    }
}
