"""Seeds a moto server with the account state the e2e seeds diagnose.

usage: seed_moto.py ENDPOINT_URL

- bucket my-bucket-123456 in us-west-2, versioned, holding one object
  (so DeleteBucket fails with BucketNotEmpty);
- IAM role ReadOnly, trusted by the account root, whose only inline policy
  allows s3:GetObject on the bucket's objects and not s3:ListBucket.
Prints one JSON line describing what it created.
"""
import json
import sys

import boto3

BUCKET = "my-bucket-123456"
REGION = "us-west-2"
ROLE = "ReadOnly"
POLICY_NAME = "ReadBucketObjects"


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: seed_moto.py ENDPOINT_URL", file=sys.stderr)
        return 2
    endpoint = sys.argv[1]
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    sts = session.client("sts", endpoint_url=endpoint)
    account = sts.get_caller_identity()["Account"]

    s3 = session.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=BUCKET, Key="reports/2026-q3.csv", Body=b"month,total\n7,42\n")

    iam = session.client("iam", endpoint_url=endpoint)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadObjects",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
            }
        ],
    }
    iam.put_role_policy(RoleName=ROLE, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))

    print(json.dumps({"account": account, "bucket": BUCKET, "region": REGION, "role_arn": role["Arn"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
