/*
 * nfq-delay: holds every packet of one NFQUEUE for a fixed delay before accepting it: the lab's
 * stand-in for `tc netem delay`, which this kernel lacks. One queue, one delay; the order of
 * packets is kept (a FIFO, since every packet waits the same time).
 *
 *   nfq-delay QUEUE_NUM DELAY_MS
 *   iptables -A FORWARD -j NFQUEUE --queue-num QUEUE_NUM --queue-bypass
 *
 * Stops on SIGTERM/SIGINT; packets still held are accepted on the way out.
 * Build: gcc -O2 -o nfq-delay nfq-delay.c -lnetfilter_queue -lnfnetlink
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CAPACITY 65536u /* packets held at once; beyond that, packets are accepted at once */

struct held { uint32_t id; uint64_t due_us; };

static struct held ring[CAPACITY];
static unsigned head, count;
static uint64_t delay_us;
static volatile sig_atomic_t stopping;
static unsigned long long passed_late, overflowed;

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
    (void)msg; (void)data;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    if (!ph) return 0;
    uint32_t id = ntohl(ph->packet_id);
    if (count == CAPACITY) {
        overflowed++;
        return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
    }
    ring[(head + count) % CAPACITY] = (struct held){ id, now_us() + delay_us };
    count++;
    return 0;
}

static void release_due(struct nfq_q_handle *qh, int all) {
    uint64_t now = now_us();
    while (count > 0 && (all || ring[head].due_us <= now)) {
        if (now > ring[head].due_us + 5000) passed_late++;
        nfq_set_verdict(qh, ring[head].id, NF_ACCEPT, 0, NULL);
        head = (head + 1) % CAPACITY;
        count--;
    }
}

static void on_signal(int sig) { (void)sig; stopping = 1; }

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s QUEUE_NUM DELAY_MS\n", argv[0]);
        return 2;
    }
    char *end;
    long queue = strtol(argv[1], &end, 10);
    if (*end || queue < 0 || queue > 65535) { fprintf(stderr, "nfq-delay: bad queue number '%s'\n", argv[1]); return 2; }
    long delay_ms = strtol(argv[2], &end, 10);
    if (*end || delay_ms < 0 || delay_ms > 10000) { fprintf(stderr, "nfq-delay: bad delay '%s' (0..10000 ms)\n", argv[2]); return 2; }
    delay_us = (uint64_t)delay_ms * 1000u;

    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct nfq_handle *h = nfq_open();
    if (!h) { perror("nfq-delay: nfq_open"); return 1; }
    struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t)queue, on_packet, NULL);
    if (!qh) { perror("nfq-delay: nfq_create_queue (is another program bound to this queue?)"); nfq_close(h); return 1; }
    if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) { perror("nfq-delay: nfq_set_mode"); return 1; }
    nfq_set_queue_maxlen(qh, CAPACITY);
    int fd = nfq_fd(h);
    /* Bursts must not be lost in the socket: a large receive buffer. */
    nfnl_rcvbufsiz(nfq_nfnlh(h), 8 * 1024 * 1024);
    fprintf(stderr, "nfq-delay: queue %ld, %ld ms\n", queue, delay_ms);

    char buf[65536] __attribute__((aligned));
    while (!stopping) {
        int timeout = -1;
        if (count > 0) {
            uint64_t now = now_us(), due = ring[head].due_us;
            timeout = due <= now ? 0 : (int)((due - now + 999) / 1000);
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, timeout);
        if (r < 0 && errno != EINTR) { perror("nfq-delay: poll"); break; }
        if (r > 0 && (p.revents & POLLIN)) {
            for (;;) {
                ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                if (n < 0) {
                    if (errno == ENOBUFS) { fprintf(stderr, "nfq-delay: receive buffer overrun (packets lost)\n"); continue; }
                    break;
                }
                nfq_handle_packet(h, buf, (int)n);
            }
        }
        release_due(qh, 0);
    }
    release_due(qh, 1);
    fprintf(stderr, "nfq-delay: stopped (late %llu, overflow %llu)\n", passed_late, overflowed);
    nfq_destroy_queue(qh);
    nfq_close(h);
    return 0;
}
