//! The generator's single thread: one epoll loop for every connection, woken by socket events or
//! by a timeout set to the next slot. Each wake-up releases every slot whose time has come; an
//! idle connection writes its pre-built request at once, a busy one as soon as its answer is in
//! (latency still counted from the slot, so a slow server is charged the wait: no coordinated
//! omission). One reused read buffer per connection; nothing is allocated per request.

use crate::epoll::Epoll;
use crate::response::ResponseReader;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Read buffer per connection: a response head must fit; bodies stream through it.
const READ_BUF: usize = 16384;

pub struct Plan {
    pub addr: SocketAddr,
    /// The whole request, written as is for every slot.
    pub request: Vec<u8>,
    pub rate: f64,
    pub conns: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// How long after the last slot unanswered requests are still waited for.
    pub drain: Duration,
    /// How late the kernel may end a wait for a slot (zero: as exactly as it can).
    pub timer_slack: Duration,
}

#[derive(Default)]
pub struct Stats {
    /// Latency from the scheduled send time to the last byte of the answer, µs.
    pub latencies: Vec<u32>,
    /// How late a request was written when its connection was idle at its slot, µs.
    pub send_lags: Vec<u32>,
    pub non2xx: u64,
    pub errors: u64,
    /// Answers received, warm-up included (for the CPU cost per request).
    pub answered: u64,
    /// From the first measured slot to the last measured answer: a server that falls behind
    /// stretches the run.
    pub measured_span: Option<Duration>,
}

struct Conn {
    stream: Option<TcpStream>,
    buf: Box<[u8]>,
    /// Unparsed bytes are buf[start..end].
    start: usize,
    end: usize,
    reader: ResponseReader,
    /// This connection's next slot to send (its i: global slot i * conns + index).
    next: u64,
    /// Its slots whose time has come: next..released are due and waiting.
    released: u64,
    /// Scheduled time (ns since the base) of the request being answered.
    in_flight: Option<u64>,
    /// Bytes of the request written so far; below its length we wait for EPOLLOUT.
    written: usize,
    /// When it last became free (ns since the base): free before a slot means idle at it.
    free_since: u64,
    /// EPOLLOUT is asked for (a write did not go out whole).
    awaits_out: bool,
}

struct Generator<'a> {
    plan: &'a Plan,
    epoll: Epoll,
    conns: Vec<Conn>,
    base: Instant,
    start_ns: u64,
    measure_ns: u64,
    step_ns: f64,
    stats: Stats,
    last_done_ns: u64,
}

pub fn run(plan: &Plan) -> io::Result<Stats> {
    crate::epoll::set_timer_slack(plan.timer_slack);
    let base = Instant::now();
    let expected = (plan.rate * plan.duration.as_secs_f64() * 1.05) as usize + 1024;
    let mut g = Generator {
        plan,
        epoll: Epoll::new()?,
        conns: (0..plan.conns)
            .map(|_| Conn {
                stream: None,
                buf: vec![0; READ_BUF].into_boxed_slice(),
                start: 0,
                end: 0,
                reader: ResponseReader::default(),
                next: 0,
                released: 0,
                in_flight: None,
                written: 0,
                free_since: 0,
                awaits_out: false,
            })
            .collect(),
        base,
        start_ns: 0,
        measure_ns: 0,
        step_ns: 1e9 / plan.rate,
        stats: Stats {
            latencies: Vec::with_capacity(expected.min(1 << 24)),
            send_lags: Vec::with_capacity(expected.min(1 << 24)),
            ..Stats::default()
        },
        last_done_ns: 0,
    };
    // Connect before the first slot; one that fails is retried (and counted) at its slot.
    for c in 0..plan.conns {
        let _ = g.connect(c);
    }
    g.start_ns = g.now() + 20_000_000;
    g.measure_ns = g.start_ns + plan.warmup.as_nanos() as u64;
    let end_ns = g.measure_ns + plan.duration.as_nanos() as u64;
    let slots = ((end_ns - g.start_ns) as f64 / g.step_ns).ceil() as u64;
    let drain_until = end_ns + plan.drain.as_nanos() as u64;
    g.run_loop(slots, drain_until)?;
    if g.last_done_ns > g.measure_ns {
        g.stats.measured_span = Some(Duration::from_nanos(g.last_done_ns - g.measure_ns));
    }
    Ok(g.stats)
}

impl Generator<'_> {
    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// Scheduled time of global slot k (connection k % conns).
    fn slot_ns(&self, k: u64) -> u64 {
        self.start_ns + (k as f64 * self.step_ns) as u64
    }

    fn conn_slot_ns(&self, c: usize, i: u64) -> u64 {
        self.slot_ns(i * self.plan.conns as u64 + c as u64)
    }

    fn run_loop(&mut self, slots: u64, drain_until: u64) -> io::Result<()> {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; self.plan.conns.max(16)];
        let mut next_k = 0u64;
        loop {
            let now = self.now();
            while next_k < slots && self.slot_ns(next_k) <= now {
                let c = (next_k % self.plan.conns as u64) as usize;
                let slot = self.slot_ns(next_k);
                let conn = &mut self.conns[c];
                conn.released += 1;
                if conn.in_flight.is_none() {
                    // Free before its slot: how late it goes out is the generator's own lag. (A
                    // connection freed after its slot was late because of the server.)
                    let idle_at_slot = conn.next + 1 == conn.released && conn.free_since <= slot;
                    self.send(c, idle_at_slot);
                }
                next_k += 1;
            }
            let timeout = if next_k < slots {
                Duration::from_nanos(self.slot_ns(next_k).saturating_sub(self.now()))
            } else if self.conns.iter().all(|c| c.in_flight.is_none() && c.next == c.released) {
                return Ok(());
            } else if now >= drain_until {
                self.give_up();
                return Ok(());
            } else {
                Duration::from_nanos(drain_until - now)
            };
            let n = self.epoll.wait(&mut events, Some(timeout))?;
            for ev in &events[..n] {
                let (c, flags) = (ev.u64 as usize, ev.events as i32);
                if flags & libc::EPOLLOUT != 0 && self.conns[c].written < self.plan.request.len() {
                    self.write(c);
                }
                if flags & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) != 0 {
                    self.read(c, flags & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) != 0);
                }
            }
        }
    }

    fn connect(&mut self, c: usize) -> io::Result<()> {
        let stream = TcpStream::connect_timeout(&self.plan.addr, Duration::from_secs(1))?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        self.epoll.register(stream.as_raw_fd(), c, false, false)?;
        let conn = &mut self.conns[c];
        (conn.start, conn.end, conn.reader, conn.awaits_out) = (0, 0, ResponseReader::default(), false);
        conn.stream = Some(stream);
        Ok(())
    }

    /// Sends connection c's oldest due slot.
    fn send(&mut self, c: usize, sample_lag: bool) {
        let slot = self.conn_slot_ns(c, self.conns[c].next);
        self.conns[c].next += 1;
        let measured = slot >= self.measure_ns;
        if self.conns[c].stream.is_none() && self.connect(c).is_err() {
            self.stats.errors += measured as u64;
            return;
        }
        if sample_lag && measured {
            self.stats.send_lags.push(micros(self.now().saturating_sub(slot)));
        }
        let conn = &mut self.conns[c];
        (conn.in_flight, conn.written) = (Some(slot), 0);
        self.write(c);
    }

    fn write(&mut self, c: usize) {
        let plan: &Plan = self.plan; // the plan outlives self: no borrow of self held
        let request = &plan.request[..];
        let conn = &mut self.conns[c];
        let Some(stream) = conn.stream.as_ref() else { return };
        while conn.written < request.len() {
            match (&*stream).write(&request[conn.written..]) {
                Ok(n) => conn.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Rare (a full send buffer): ask for EPOLLOUT until the rest is out.
                    conn.awaits_out = true;
                    if self.epoll.register(stream.as_raw_fd(), c, true, true).is_err() {
                        self.fail(c);
                    }
                    return;
                }
                Err(_) => return self.fail(c),
            }
        }
        if conn.awaits_out {
            conn.awaits_out = false;
            if self.epoll.register(stream.as_raw_fd(), c, false, true).is_err() {
                self.fail(c);
            }
        }
    }

    /// Reads until the socket is drained (edge-triggered: a read that does not fill the buffer
    /// took everything there was; later bytes bring a new event). When the peer has closed
    /// (`hung_up`), reads on to the end so that the close is seen now: no new edge would come.
    fn read(&mut self, c: usize, hung_up: bool) {
        loop {
            let conn = &mut self.conns[c];
            let Some(stream) = conn.stream.as_ref() else { return };
            if conn.end == conn.buf.len() {
                if conn.start == 0 {
                    return self.fail(c); // a response head larger than the buffer
                }
                conn.buf.copy_within(conn.start..conn.end, 0);
                (conn.start, conn.end) = (0, conn.end - conn.start);
            }
            let space = conn.buf.len() - conn.end;
            match (&*stream).read(&mut conn.buf[conn.end..]) {
                Ok(0) => {
                    // Closed by the server: fine between answers, an error inside one.
                    if conn.in_flight.is_some() || conn.start < conn.end || !conn.reader.at_start() {
                        return self.fail(c);
                    }
                    conn.stream = None;
                    return;
                }
                Ok(n) => {
                    conn.end += n;
                    if !self.parse(c) || (n < space && !hung_up) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.fail(c),
            }
        }
    }

    /// Consumes buffered bytes; false when the connection failed on them.
    fn parse(&mut self, c: usize) -> bool {
        loop {
            let conn = &mut self.conns[c];
            if conn.start == conn.end {
                (conn.start, conn.end) = (0, 0);
                return true;
            }
            if conn.in_flight.is_none() {
                self.fail(c); // bytes nobody asked for
                return false;
            }
            match conn.reader.advance(&conn.buf[conn.start..conn.end]) {
                Ok((used, done)) => {
                    conn.start += used;
                    match done {
                        Some(status) => self.answered(c, status),
                        None => return true,
                    }
                }
                Err(_) => {
                    self.fail(c);
                    return false;
                }
            }
        }
    }

    fn answered(&mut self, c: usize, status: u16) {
        let now = self.now();
        let slot = self.conns[c].in_flight.take().expect("an answer to a request in flight");
        self.conns[c].free_since = now;
        self.stats.answered += 1;
        if slot >= self.measure_ns {
            self.stats.latencies.push(micros(now.saturating_sub(slot)));
            self.stats.non2xx += !(200..300).contains(&status) as u64;
            self.last_done_ns = now;
        }
        // Slots that came while this one was out go now, charged from their own slot time.
        if self.conns[c].next < self.conns[c].released {
            self.send(c, false);
        }
    }

    /// Drops a broken connection; its request in flight is an error. The next due slot reconnects.
    fn fail(&mut self, c: usize) {
        let conn = &mut self.conns[c];
        conn.stream = None; // closing the socket also takes it out of the epoll set
        conn.free_since = self.base.elapsed().as_nanos() as u64;
        if let Some(slot) = conn.in_flight.take() {
            if slot >= self.measure_ns {
                self.stats.errors += 1;
                self.last_done_ns = self.now();
            }
        }
    }

    /// The drain time is over: whatever is still unanswered or unsent counts as an error.
    fn give_up(&mut self) {
        for c in 0..self.conns.len() {
            let (next, released) = (self.conns[c].next, self.conns[c].released);
            let unsent = (next..released).filter(|i| self.conn_slot_ns(c, *i) >= self.measure_ns).count();
            self.stats.errors += unsent as u64;
            self.fail(c);
        }
    }
}

fn micros(ns: u64) -> u32 {
    (ns / 1000).min(u32::MAX as u64) as u32
}
