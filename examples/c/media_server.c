/*
 * A media-server-shaped host of the Tutti C ABI (tutti/include/tutti.h).
 *
 *   media_server echo NEAR.wav FAR.wav OUT.wav [CHAIN]
 *   media_server conference OUT_DIR A.wav B.wav C.wav
 *
 * plays the part of a media server's call leg: every 20 ms "packet" it pushes the far-end frames it is
 * about to play out (FAR.wav) into the engine, then processes the near-end frames it captured (NEAR.wav,
 * which contains the echo of the far-end) in place, 16-bit interleaved, through CHAIN (default
 * "hpf,aec,ns,agc"), and finally writes OUT.wav. After one second it changes a parameter at run time
 * (agc.target_dbfs) as a control thread would. At the end it prints the engine's statistics: latency,
 * counters, every meter (the AEC's ERLE among them) and each node's cost per block.
 *
 * "conference" plays a conference bridge with three remote participants fed from 8 kHz mono WAV files:
 * each participant's audio is G.711 mu-law encoded into RTP packets (what would arrive on the bridge's
 * UDP sockets) and pushed into the conference every 20 ms; the bridge ticks, pulls the RTP packets it
 * must send to every leg (the mix of the two others, N-1), and the example decodes them into
 * OUT_DIR/heard_a.wav, heard_b.wav and heard_c.wav, as each participant would hear. The host owns
 * the sockets and the clock; Tutti is sans-IO.
 *
 * Build and run it with ./scripts/c_example.sh (from the workspace root).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tutti.h"
#include "wav.h"

/* Evaluates a Tutti call; on failure prints the status and message and jumps to `fail`. */
#define CHECK(call)                                                                                  \
    do {                                                                                             \
        TuttiStatus s_ = (call);                                                                     \
        if (s_ != TUTTI_STATUS_OK) {                                                                 \
            fprintf(stderr, "%s failed: %s: %s\n", #call, tutti_status_name((int)s_), tutti_last_error()); \
            goto fail;                                                                               \
        }                                                                                            \
    } while (0)

static int run_echo(const char *near_path, const char *far_path, const char *out_path, const char *chain) {
    int rc = 1;
    wav_t near, far;
    TuttiEngine *engine = NULL;
    int16_t *packet = NULL, *far_packet = NULL, *out = NULL;
    if (wav_read(near_path, &near) != 0) return 1;
    if (wav_read(far_path, &far) != 0) {
        free(near.samples);
        return 1;
    }
    if (far.sample_rate != near.sample_rate || far.channels != near.channels) {
        fprintf(stderr, "%s: format differs from %s\n", far_path, near_path);
        goto fail;
    }
    const uint32_t rate = near.sample_rate, ch = near.channels;
    const size_t block = rate / 100;       /* 10 ms engine blocks */
    const size_t ptime = 2 * block;        /* 20 ms packets, as RTP usually carries */

    CHECK(tutti_engine_new_chain(chain, rate, ch, (uint32_t)block, &engine));
    TuttiEngineStats st;
    CHECK(tutti_engine_stats(engine, &st));
    printf("tutti %s: chain \"%s\" at %u Hz, %u channel(s), %u-frame blocks, latency %u frames (%.1f ms)\n",
           tutti_version(), chain, st.sample_rate, st.input_channels, st.block_frames, st.latency_frames,
           1000.0 * st.latency_frames / st.sample_rate);

    packet = calloc(ptime * ch, sizeof *packet);
    far_packet = calloc(ptime * ch, sizeof *far_packet);
    out = calloc(near.frames * ch + 1, sizeof *out);
    if (!packet || !far_packet || !out) {
        fprintf(stderr, "out of memory\n");
        goto fail;
    }
    for (size_t pos = 0; pos < near.frames; pos += ptime) {
        size_t n = near.frames - pos < ptime ? near.frames - pos : ptime;
        /* The last packet is zero-padded to whole blocks. */
        memset(packet, 0, ptime * ch * sizeof *packet);
        memset(far_packet, 0, ptime * ch * sizeof *far_packet);
        memcpy(packet, near.samples + pos * ch, n * ch * sizeof *packet);
        if (pos < far.frames) {
            size_t m = far.frames - pos < n ? far.frames - pos : n;
            memcpy(far_packet, far.samples + pos * ch, m * ch * sizeof *far_packet);
        }
        size_t frames = (n + block - 1) / block * block;
        if (st.has_far) CHECK(tutti_engine_push_far_i16(engine, far_packet, frames));
        CHECK(tutti_engine_process_i16(engine, packet, packet, frames));
        memcpy(out + pos * ch, packet, n * ch * sizeof *out);
        if (pos < rate && pos + ptime >= rate && strstr(chain, "agc") != NULL) {
            CHECK(tutti_engine_set_param(engine, "agc.target_dbfs", -20.0f));
            printf("t=1.00 s: set agc.target_dbfs = -20\n");
        }
    }
    if (wav_write(out_path, rate, (uint16_t)ch, out, near.frames) != 0) goto fail;

    CHECK(tutti_engine_stats(engine, &st));
    printf("processed %llu blocks; far-end: %llu frames pushed, %llu dropped, %llu underrun\n",
           (unsigned long long)st.blocks, (unsigned long long)st.far_pushed_frames,
           (unsigned long long)st.far_dropped_frames, (unsigned long long)st.far_underrun_frames);
    size_t meters = 0;
    CHECK(tutti_engine_meter_count(engine, &meters));
    for (size_t i = 0; i < meters; i++) {
        TuttiMeter m;
        CHECK(tutti_engine_meter_at(engine, i, &m));
        printf("  meter %-24s %10.2f\n", m.name, m.value);
    }
    size_t nodes = 0;
    CHECK(tutti_engine_node_stats(engine, NULL, 0, &nodes));
    TuttiNodeStat *ns = calloc(nodes + 1, sizeof *ns);
    if (!ns) goto fail;
    if (tutti_engine_node_stats(engine, ns, nodes, &nodes) != TUTTI_STATUS_OK) {
        fprintf(stderr, "node stats: %s\n", tutti_last_error());
        free(ns);
        goto fail;
    }
    for (size_t i = 0; i < nodes; i++)
        printf("  node %-8s (%s) %8.1f us/block\n", ns[i].label, ns[i].type_name, ns[i].ns_per_block / 1000.0);
    free(ns);
    double erle;
    if (tutti_engine_get_meter(engine, "aec.erle_db", &erle) == TUTTI_STATUS_OK)
        printf("aec ERLE %.1f dB\n", erle);
    printf("wrote %s (%zu frames)\n", out_path, near.frames);
    rc = 0;
fail:
    tutti_engine_free(engine);
    free(packet);
    free(far_packet);
    free(out);
    free(near.samples);
    free(far.samples);
    return rc;
}

/* ---- G.711 mu-law (ITU-T G.711), for the simulated remote participants ---- */

static uint8_t ulaw_encode(int16_t pcm) {
    const int bias = 0x84, clip = 32635;
    int sign = (pcm >> 8) & 0x80, x = pcm;
    if (sign) x = -x;
    if (x > clip) x = clip;
    x += bias;
    int exponent = 7;
    for (int mask = 0x4000; (x & mask) == 0 && exponent > 0; mask >>= 1) exponent--;
    int mantissa = (x >> (exponent + 3)) & 0x0F;
    return (uint8_t)~(sign | (exponent << 4) | mantissa);
}

static int16_t ulaw_decode(uint8_t u) {
    u = (uint8_t)~u;
    int t = ((u & 0x0F) << 3) + 0x84;
    t <<= (u & 0x70) >> 4;
    return (int16_t)((u & 0x80) ? (0x84 - t) : (t - 0x84));
}

/* One simulated remote participant: what it sends, and what it hears back. */
typedef struct {
    const char *name;
    wav_t audio;
    uint64_t leg;
    uint32_t ssrc, timestamp;
    uint16_t seq;
    int16_t *heard;
    size_t heard_frames, heard_cap;
    unsigned long rtcp;
} participant_t;

/* Builds this participant's next 20 ms RTP packet (PCMU, PT 0) into `pkt`; returns its length. */
static size_t participant_packet(participant_t *p, size_t pos, uint8_t *pkt) {
    const size_t frame = 160; /* 20 ms at 8 kHz */
    pkt[0] = 0x80;            /* V=2, no padding, no extension, no CSRC */
    pkt[1] = 0;               /* M=0, PT=0 (PCMU) */
    pkt[2] = (uint8_t)(p->seq >> 8);
    pkt[3] = (uint8_t)p->seq;
    for (int i = 0; i < 4; i++) pkt[4 + i] = (uint8_t)(p->timestamp >> (24 - 8 * i));
    for (int i = 0; i < 4; i++) pkt[8 + i] = (uint8_t)(p->ssrc >> (24 - 8 * i));
    for (size_t i = 0; i < frame; i++)
        pkt[12 + i] = ulaw_encode(pos + i < p->audio.frames ? p->audio.samples[pos + i] : 0);
    p->seq++;
    p->timestamp += (uint32_t)frame;
    return 12 + frame;
}

/* Takes a datagram the bridge sends to this participant: RTCP is counted, RTP decoded. */
static int participant_take(participant_t *p, const uint8_t *d, size_t n) {
    if (n >= 2 && d[1] >= 192 && d[1] <= 223) { /* RTCP (RFC 5761 demultiplexing) */
        p->rtcp++;
        return 0;
    }
    if (n < 12 || (d[0] >> 6) != 2) {
        fprintf(stderr, "%s: bridge sent a malformed RTP packet\n", p->name);
        return -1;
    }
    size_t off = 12 + 4 * (size_t)(d[0] & 0x0F); /* CSRC list: the mixed talkers */
    if (d[0] & 0x10) {                         /* header extension (RFC 6465 levels) */
        if (off + 4 > n) return -1;
        off += 4 + 4 * (size_t)((d[off + 2] << 8) | d[off + 3]);
    }
    size_t end = n;
    if (d[0] & 0x20) end -= d[n - 1]; /* padding */
    if (off > end) return -1;
    size_t m = end - off;
    if (p->heard_frames + m > p->heard_cap) {
        size_t cap = 2 * (p->heard_cap + m);
        int16_t *h = realloc(p->heard, cap * sizeof *h);
        if (!h) return -1;
        p->heard = h;
        p->heard_cap = cap;
    }
    for (size_t i = 0; i < m; i++) p->heard[p->heard_frames++] = ulaw_decode(d[off + i]);
    return 0;
}

static int run_conference(const char *out_dir, char **inputs) {
    int rc = 1;
    participant_t ps[3];
    memset(ps, 0, sizeof ps);
    const char *names[3] = {"a", "b", "c"};
    TuttiConference *conf = NULL;
    size_t longest = 0;
    for (int i = 0; i < 3; i++) {
        ps[i].name = names[i];
        if (wav_read(inputs[i], &ps[i].audio) != 0) goto fail;
        if (ps[i].audio.sample_rate != 8000 || ps[i].audio.channels != 1) {
            fprintf(stderr, "%s: need 8 kHz mono (PCMU legs)\n", inputs[i]);
            goto fail;
        }
        if (ps[i].audio.frames > longest) longest = ps[i].audio.frames;
        ps[i].ssrc = 0x1000u * (uint32_t)(i + 1);
        ps[i].seq = (uint16_t)(100 * i);
        ps[i].timestamp = 4000u * (uint32_t)i;
    }
    TuttiConferenceConfig cc;
    CHECK(tutti_conference_config_default(&cc));
    cc.max_legs = 8;
    CHECK(tutti_conference_new(&cc, &conf));
    for (int i = 0; i < 3; i++) {
        TuttiLegConfig lc;
        CHECK(tutti_leg_config_default(&lc));
        lc.name = names[i];
        lc.codec = "pcmu";
        CHECK(tutti_conference_add_leg(conf, &lc, 0, &ps[i].leg));
    }
    uint8_t pkt[1500], out[1500];
    for (size_t pos = 0, tick = 0; pos < longest; pos += 160, tick++) {
        uint64_t now_us = (uint64_t)tick * 20000; /* the host's clock */
        for (int i = 0; i < 3; i++) {
            size_t n = participant_packet(&ps[i], pos, pkt);
            CHECK(tutti_conference_receive(conf, ps[i].leg, now_us, pkt, n));
        }
        CHECK(tutti_conference_tick(conf, now_us));
        for (int i = 0; i < 3; i++) {
            for (;;) {
                size_t n = 0;
                CHECK(tutti_conference_poll_transmit(conf, ps[i].leg, out, sizeof out, &n));
                if (n == 0) break;
                if (participant_take(&ps[i], out, n) != 0) goto fail;
            }
        }
    }
    TuttiConferenceStats cs;
    CHECK(tutti_conference_stats(conf, &cs));
    printf("conference: %u legs mixed at %u Hz, %llu ticks of %u ms, %llu encodes\n", cs.legs, cs.mix_rate,
           (unsigned long long)cs.ticks, cs.ptime_ms, (unsigned long long)cs.encodes_total);
    for (int i = 0; i < 3; i++) {
        TuttiLegStats ls;
        CHECK(tutti_conference_leg_stats(conf, ps[i].leg, &ls));
        printf("  leg %s: rx %llu packets (lost %lld, dropped %llu), tx %llu RTP + %llu RTCP, jitter buffer "
               "%.1f ms, MOS %.2f\n",
               ps[i].name, (unsigned long long)ls.packets_received, (long long)ls.packets_lost,
               (unsigned long long)ls.rx_dropped, (unsigned long long)ls.tx_packets,
               (unsigned long long)ls.tx_rtcp, ls.jitter_buffer_delay_ms, ls.mos);
        char path[4096];
        snprintf(path, sizeof path, "%s/heard_%s.wav", out_dir, ps[i].name);
        if (wav_write(path, 8000, 1, ps[i].heard, ps[i].heard_frames) != 0) goto fail;
        printf("  wrote %s (%zu frames)\n", path, ps[i].heard_frames);
    }
    /* A garbage datagram is counted and dropped, not fatal. */
    uint8_t junk[5] = {1, 2, 3, 4, 5};
    TuttiStatus s = tutti_conference_receive(conf, ps[0].leg, 0, junk, sizeof junk);
    printf("junk datagram: %s (%s)\n", tutti_status_name((int)s), tutti_last_error());
    if (s != TUTTI_STATUS_DROPPED) goto fail;
    /* Leaving: the leg's final RTCP BYE is still handed out. */
    CHECK(tutti_conference_remove_leg(conf, ps[2].leg, (uint64_t)longest / 8 * 1000));
    unsigned long before = ps[2].rtcp;
    for (;;) {
        size_t n = 0;
        CHECK(tutti_conference_poll_transmit(conf, ps[2].leg, out, sizeof out, &n));
        if (n == 0) break;
        if (participant_take(&ps[2], out, n) != 0) goto fail;
    }
    printf("leg c left: %lu parting RTCP packet(s)\n", ps[2].rtcp - before);
    if (ps[2].rtcp == before) goto fail;
    rc = 0;
fail:
    tutti_conference_free(conf);
    for (int i = 0; i < 3; i++) {
        free(ps[i].audio.samples);
        free(ps[i].heard);
    }
    return rc;
}

static int usage(void) {
    fprintf(stderr,
            "usage: media_server echo NEAR.wav FAR.wav OUT.wav [CHAIN]\n"
            "       media_server conference OUT_DIR A.wav B.wav C.wav\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc >= 5 && strcmp(argv[1], "echo") == 0)
        return run_echo(argv[2], argv[3], argv[4], argc > 5 ? argv[5] : "hpf,aec,ns,agc");
    if (argc == 6 && strcmp(argv[1], "conference") == 0) return run_conference(argv[2], argv + 3);
    return usage();
}
