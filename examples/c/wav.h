/*
 * Minimal 16-bit PCM WAV reading and writing for the Tutti C examples (no dependencies).
 *
 * wav_read accepts RIFF/WAVE files with a PCM (format 1) or WAVE_FORMAT_EXTENSIBLE fmt chunk of 16-bit
 * samples, any channel count, and skips other chunks (LIST, fact, ...). wav_write writes 16-bit PCM.
 */
#ifndef TUTTI_EXAMPLE_WAV_H
#define TUTTI_EXAMPLE_WAV_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t sample_rate;
    uint16_t channels;
    size_t frames;
    int16_t *samples; /* interleaved, frames * channels */
} wav_t;

static uint32_t wav_le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint16_t wav_le16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* Reads `path` into `w`; returns 0 on success, -1 with a message on stderr otherwise. */
static int wav_read(const char *path, wav_t *w) {
    memset(w, 0, sizeof *w);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return -1;
    }
    unsigned char hdr[12];
    if (fread(hdr, 1, 12, f) != 12 || memcmp(hdr, "RIFF", 4) != 0 || memcmp(hdr + 8, "WAVE", 4) != 0) {
        fprintf(stderr, "%s: not a RIFF/WAVE file\n", path);
        fclose(f);
        return -1;
    }
    int have_fmt = 0;
    for (;;) {
        unsigned char ch[8];
        if (fread(ch, 1, 8, f) != 8) {
            fprintf(stderr, "%s: no data chunk\n", path);
            break;
        }
        uint32_t size = wav_le32(ch + 4);
        if (memcmp(ch, "fmt ", 4) == 0) {
            unsigned char fmt[40];
            if (size < 16 || size > sizeof fmt || fread(fmt, 1, size, f) != size) {
                fprintf(stderr, "%s: bad fmt chunk\n", path);
                break;
            }
            uint16_t format = wav_le16(fmt), bits = wav_le16(fmt + 14);
            if (format == 0xFFFE && size >= 26) format = wav_le16(fmt + 24); /* extensible: sub-format */
            if (format != 1 || bits != 16) {
                fprintf(stderr, "%s: only 16-bit PCM is supported (format %u, %u bits)\n", path, format, bits);
                break;
            }
            w->channels = wav_le16(fmt + 2);
            w->sample_rate = wav_le32(fmt + 4);
            have_fmt = w->channels > 0;
            if (size & 1) fseek(f, 1, SEEK_CUR);
        } else if (memcmp(ch, "data", 4) == 0) {
            if (!have_fmt) {
                fprintf(stderr, "%s: data before fmt\n", path);
                break;
            }
            size_t n = size / 2;
            w->frames = n / w->channels;
            w->samples = malloc((w->frames * w->channels + 1) * sizeof(int16_t));
            unsigned char *raw = malloc(size + 1);
            if (!w->samples || !raw || fread(raw, 1, size, f) != size) {
                fprintf(stderr, "%s: truncated data chunk\n", path);
                free(raw);
                free(w->samples);
                w->samples = NULL;
                break;
            }
            for (size_t i = 0; i < w->frames * w->channels; i++) w->samples[i] = (int16_t)wav_le16(raw + 2 * i);
            free(raw);
            fclose(f);
            return 0;
        } else {
            fseek(f, (long)(size + (size & 1)), SEEK_CUR);
        }
    }
    fclose(f);
    return -1;
}

static void wav_put16(FILE *f, uint16_t v) {
    unsigned char b[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    fwrite(b, 1, 2, f);
}

static void wav_put32(FILE *f, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    fwrite(b, 1, 4, f);
}

/* Writes 16-bit PCM; returns 0 on success. */
static int wav_write(const char *path, uint32_t rate, uint16_t channels, const int16_t *samples, size_t frames) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "%s: cannot create\n", path);
        return -1;
    }
    uint32_t bytes = (uint32_t)(frames * channels * 2);
    fwrite("RIFF", 1, 4, f);
    wav_put32(f, 36 + bytes);
    fwrite("WAVEfmt ", 1, 8, f);
    wav_put32(f, 16);
    wav_put16(f, 1);
    wav_put16(f, channels);
    wav_put32(f, rate);
    wav_put32(f, rate * channels * 2);
    wav_put16(f, (uint16_t)(channels * 2));
    wav_put16(f, 16);
    fwrite("data", 1, 4, f);
    wav_put32(f, bytes);
    for (size_t i = 0; i < frames * channels; i++) wav_put16(f, (uint16_t)samples[i]);
    int ok = ferror(f) == 0;
    if (fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "%s: write failed\n", path);
    return ok ? 0 : -1;
}

#endif
