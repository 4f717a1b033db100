//! A TCP relay in front of a stand-in that counts the connections opened through it, so tests
//! can check that warm invocations reuse connections instead of opening new ones.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub struct ConnectionCounter {
    pub addr: SocketAddr,
    opened: Arc<AtomicUsize>,
}

impl ConnectionCounter {
    /// Relays every connection made to `addr` to `target`.
    pub async fn start(target: SocketAddr) -> ConnectionCounter {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let opened = Arc::new(AtomicUsize::new(0));
        let counter = opened.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                // A relay must not add Nagle delays of its own to what it measures.
                let _ = inbound.set_nodelay(true);
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = outbound.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        ConnectionCounter { addr, opened }
    }

    pub fn opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }
}
