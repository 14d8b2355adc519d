//! The bridge between Rustack's HTTP layer and its S3 provider: the
//! operations the asset tools, s3fs and rclone use. Anything else answers
//! NotImplemented, which is what a test should see if a tool starts to need it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use rustack_s3_core::RustackS3;
use rustack_s3_core::storage::StagedUpload;
use rustack_s3_http::body::S3ResponseBody;
use rustack_s3_http::dispatch::S3Handler;
use rustack_s3_http::request::FromS3Request;
use rustack_s3_http::response::IntoS3Response;
use rustack_s3_http::router::RoutingContext;
use rustack_s3_model::S3Operation;
use rustack_s3_model::error::S3Error;

type Reply = Result<http::Response<S3ResponseBody>, S3Error>;

/// The provider, and a lock that lets one multipart operation run at a
/// time: Rustack 0.12's storage deadlocks when an UploadPart
/// (`write_staged_part`) and a CompleteMultipartUpload (`abort_multipart`)
/// of different uploads run at once (each waits for the other's map shard,
/// found with gdb under `cargo xtask bench seed`). An async lock waits
/// without blocking a runtime thread.
#[derive(Clone)]
pub(crate) struct Handler {
    pub s3: RustackS3,
    pub multipart: Arc<tokio::sync::Mutex<()>>,
}

impl Handler {
    pub(crate) fn new(s3: RustackS3) -> Handler {
        Handler {
            s3,
            multipart: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

async fn call<I, O, Fut>(
    parts: &http::request::Parts,
    ctx: &RoutingContext,
    body: Bytes,
    op: impl FnOnce(I) -> Fut,
) -> Reply
where
    I: FromS3Request,
    O: IntoS3Response,
    Fut: Future<Output = Result<O, S3Error>>,
{
    let input = I::from_s3_request(
        parts,
        ctx.bucket.as_deref(),
        ctx.key.as_deref(),
        &ctx.query_params,
        body,
    )?;
    op(input).await?.into_s3_response()
}

async fn call_void<I, Fut>(
    parts: &http::request::Parts,
    ctx: &RoutingContext,
    body: Bytes,
    op: impl FnOnce(I) -> Fut,
) -> Reply
where
    I: FromS3Request,
    Fut: Future<Output = Result<(), S3Error>>,
{
    let input = I::from_s3_request(
        parts,
        ctx.bucket.as_deref(),
        ctx.key.as_deref(),
        &ctx.query_params,
        body,
    )?;
    op(input).await?;
    http::Response::builder()
        .status(http::StatusCode::NO_CONTENT)
        .body(S3ResponseBody::empty())
        .map_err(|e| S3Error::internal_error(e.to_string()))
}

impl S3Handler for Handler {
    fn handle_staged_upload(
        &self,
        mut parts: http::request::Parts,
        upload: Arc<StagedUpload>,
        ctx: RoutingContext,
    ) -> Pin<Box<dyn Future<Output = Reply> + Send>> {
        parts.extensions.insert(upload);
        self.handle_operation(ctx.operation, parts, Bytes::new(), ctx)
    }

    fn handle_operation(
        &self,
        op: S3Operation,
        parts: http::request::Parts,
        body: Bytes,
        ctx: RoutingContext,
    ) -> Pin<Box<dyn Future<Output = Reply> + Send>> {
        let s3 = self.s3.clone();
        let multipart = Arc::clone(&self.multipart);
        Box::pin(async move {
            let (p, c) = (&parts, &ctx);
            let staged = parts.extensions.get::<Arc<StagedUpload>>().cloned();
            let _serialized = match op {
                S3Operation::CreateMultipartUpload
                | S3Operation::UploadPart
                | S3Operation::UploadPartCopy
                | S3Operation::CompleteMultipartUpload
                | S3Operation::AbortMultipartUpload
                | S3Operation::ListParts
                | S3Operation::ListMultipartUploads => Some(multipart.lock().await),
                _ => None,
            };
            match op {
                S3Operation::CreateBucket => call(p, c, body, |i| s3.handle_create_bucket(i)).await,
                S3Operation::DeleteBucket => call_void(p, c, body, |i| s3.handle_delete_bucket(i)).await,
                S3Operation::HeadBucket => call(p, c, body, |i| s3.handle_head_bucket(i)).await,
                S3Operation::ListBuckets => call(p, c, body, |i| s3.handle_list_buckets(i)).await,
                S3Operation::GetBucketLocation => call(p, c, body, |i| s3.handle_get_bucket_location(i)).await,
                S3Operation::GetBucketVersioning => call(p, c, body, |i| s3.handle_get_bucket_versioning(i)).await,
                S3Operation::GetBucketAcl => call(p, c, body, |i| s3.handle_get_bucket_acl(i)).await,
                S3Operation::PutObject => {
                    call(p, c, body, |i| async move {
                        match staged {
                            Some(upload) => s3.handle_put_object_staged(i, upload).await,
                            None => s3.handle_put_object(i).await,
                        }
                    })
                    .await
                }
                S3Operation::GetObject => {
                    let input = rustack_s3_model::input::GetObjectInput::from_s3_request(
                        p,
                        c.bucket.as_deref(),
                        c.key.as_deref(),
                        &c.query_params,
                        body,
                    )?;
                    let (output, staged) = s3.handle_get_object_streaming(input).await?;
                    let mut response = output.into_s3_response()?;
                    if let Some(staged) = staged {
                        *response.body_mut() = S3ResponseBody::from_staged(staged)
                            .await
                            .map_err(|e| S3Error::internal_error(e.to_string()))?;
                    }
                    Ok(response)
                }
                S3Operation::HeadObject => call(p, c, body, |i| s3.handle_head_object(i)).await,
                S3Operation::DeleteObject => call(p, c, body, |i| s3.handle_delete_object(i)).await,
                S3Operation::DeleteObjects => call(p, c, body, |i| s3.handle_delete_objects(i)).await,
                S3Operation::CopyObject => call(p, c, body, |i| s3.handle_copy_object(i)).await,
                S3Operation::GetObjectAcl => call(p, c, body, |i| s3.handle_get_object_acl(i)).await,
                S3Operation::GetObjectTagging => call(p, c, body, |i| s3.handle_get_object_tagging(i)).await,
                S3Operation::ListObjects => call(p, c, body, |i| s3.handle_list_objects(i)).await,
                S3Operation::ListObjectsV2 => call(p, c, body, |i| s3.handle_list_objects_v2(i)).await,
                S3Operation::CreateMultipartUpload => call(p, c, body, |i| s3.handle_create_multipart_upload(i)).await,
                S3Operation::UploadPart => {
                    call(p, c, body, |i| async move {
                        match staged {
                            Some(upload) => s3.handle_upload_part_staged(i, upload).await,
                            None => s3.handle_upload_part(i).await,
                        }
                    })
                    .await
                }
                S3Operation::UploadPartCopy => {
                    let input = rustack_s3_model::input::UploadPartCopyInput::from_s3_request(
                        p,
                        c.bucket.as_deref(),
                        c.key.as_deref(),
                        &c.query_params,
                        body,
                    )?;
                    match input.copy_source_range.clone() {
                        Some(range) => ranged_part_copy(&s3, input, range).await,
                        None => s3.handle_upload_part_copy(input).await?.into_s3_response(),
                    }
                }
                S3Operation::CompleteMultipartUpload => {
                    call(p, c, body, |i| s3.handle_complete_multipart_upload(i)).await
                }
                S3Operation::AbortMultipartUpload => call(p, c, body, |i| s3.handle_abort_multipart_upload(i)).await,
                S3Operation::ListParts => call(p, c, body, |i| s3.handle_list_parts(i)).await,
                S3Operation::ListMultipartUploads => call(p, c, body, |i| s3.handle_list_multipart_uploads(i)).await,
                other => Err(S3Error::not_implemented(other.as_str())),
            }
        })
    }
}

/// Rustack 0.12 ignores `x-amz-copy-source-range` (every part would be the
/// whole source): a ranged UploadPartCopy is served as a ranged GetObject
/// followed by an UploadPart, which is what S3 does on the server.
async fn ranged_part_copy(s3: &RustackS3, input: rustack_s3_model::input::UploadPartCopyInput, range: String) -> Reply {
    use rustack_s3_model::input::{GetObjectInput, UploadPartInput};
    let (bucket, key, _) = rustack_s3_core::utils::parse_copy_source(&input.copy_source)
        .map_err(rustack_s3_core::error::S3ServiceError::into_s3_error)?;
    let got = s3
        .handle_get_object(GetObjectInput {
            bucket,
            key,
            range: Some(range),
            ..Default::default()
        })
        .await?;
    let data = got.body.map(|b| b.data).unwrap_or_default();
    let length = data.len() as i64;
    let part = s3
        .handle_upload_part(UploadPartInput {
            bucket: input.bucket,
            key: input.key,
            upload_id: input.upload_id,
            part_number: input.part_number,
            content_length: Some(length),
            body: Some(rustack_s3_model::request::StreamingBlob::new(data)),
            ..Default::default()
        })
        .await?;
    rustack_s3_model::output::UploadPartCopyOutput {
        copy_part_result: Some(rustack_s3_model::types::CopyPartResult {
            e_tag: part.e_tag,
            ..Default::default()
        }),
        ..Default::default()
    }
    .into_s3_response()
}
