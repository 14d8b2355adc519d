//! An object_store byte stream as the [`ObjectBody`](crate::ObjectBody)
//! every reader of a [`Store`](crate::Store) takes: a task forwards the
//! chunks through a small channel (two chunks in flight, so memory stays
//! bounded), and the body reads the channel.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use http_body::{Body, Frame};
use tokio::sync::mpsc;

pub(crate) fn stream(mut chunks: BoxStream<'static, object_store::Result<Bytes>>) -> crate::ObjectBody {
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    crate::ObjectBody(aws_sdk_s3::primitives::ByteStream::from_body_1_x(ChannelBody { rx }))
}

struct ChannelBody {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|next| next.map(|chunk| chunk.map(Frame::data)))
    }
}
