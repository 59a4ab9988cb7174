//! [`QueueApi`] on [`EksAws`] (aws-sdk-sqs): the queue of EC2 events an eks
//! pool names. The SDK types stay here.

use aws_sdk_sqs::{error::ProvideErrorMetadata, types as t};
use futures::{FutureExt, future::BoxFuture};

use super::{
    api::{ApiResult, QueueApi, QueueMessage},
    aws::EksAws,
};
use crate::providers::emr::aws::error::api_error;

/// SQS's answers when a queue does not exist (JSON and query protocols).
const NO_QUEUE: [&str; 2] = ["QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"];

impl EksAws {
    async fn queue_url_impl(&self, region: &str, name: &str) -> ApiResult<Option<String>> {
        match self
            .clients(region)
            .await
            .sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.queue_url),
            Err(e) if e.code().is_some_and(|c| NO_QUEUE.contains(&c)) => Ok(None),
            Err(e) => Err(api_error("GetQueueUrl")(e)),
        }
    }

    async fn receive_impl(&self, region: &str, url: &str, max: i32, hide_seconds: i32) -> ApiResult<Vec<QueueMessage>> {
        let out = self
            .clients(region)
            .await
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max.clamp(1, 10))
            .visibility_timeout(hide_seconds)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(api_error("ReceiveMessage"))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                Some(QueueMessage {
                    receipt: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                })
            })
            .collect())
    }

    async fn delete_impl(&self, region: &str, url: &str, receipts: &[String]) -> ApiResult<()> {
        let client = self.clients(region).await.sqs;
        // A batch holds at most 10 entries.
        for chunk in receipts.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    t::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(r)
                        .build()
                        .expect("id and receipt handle are set")
                })
                .collect();
            client
                .delete_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(api_error("DeleteMessageBatch"))?;
        }
        Ok(())
    }
}

impl QueueApi for EksAws {
    fn queue_url<'a>(&'a self, region: &'a str, name: &'a str) -> BoxFuture<'a, ApiResult<Option<String>>> {
        self.queue_url_impl(region, name).boxed()
    }

    fn receive<'a>(
        &'a self,
        region: &'a str,
        url: &'a str,
        max: i32,
        hide_seconds: i32,
    ) -> BoxFuture<'a, ApiResult<Vec<QueueMessage>>> {
        self.receive_impl(region, url, max, hide_seconds).boxed()
    }

    fn delete<'a>(&'a self, region: &'a str, url: &'a str, receipts: &'a [String]) -> BoxFuture<'a, ApiResult<()>> {
        self.delete_impl(region, url, receipts).boxed()
    }
}
