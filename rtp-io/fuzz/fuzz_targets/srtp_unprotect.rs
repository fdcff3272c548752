//! SRTP/SRTCP unprotect of arbitrary packets for every profile: rejected and counted, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tutti_rtp::{SrtpConfig, SrtpContext, SrtpProfile};

fuzz_target!(|data: &[u8]| {
    for profile in [
        SrtpProfile::Aes128CmHmacSha1_80,
        SrtpProfile::Aes128CmHmacSha1_32,
        SrtpProfile::AeadAes128Gcm,
    ] {
        let salt = [0x11u8; 14];
        let mut ctx = SrtpContext::new(
            profile,
            &[0x22; 16],
            &salt[..profile.master_salt_len()],
            SrtpConfig::default(),
        )
        .expect("valid key lengths");
        let mut buf = data.to_vec();
        let _ = ctx.unprotect_rtp(&mut buf, data.len());
        let mut buf = data.to_vec();
        let _ = ctx.unprotect_rtcp(&mut buf, data.len());
        let s = ctx.stats();
        assert_eq!(
            s.rtp_unprotected + s.rtcp_unprotected,
            0,
            "random data never authenticates"
        );
    }
});
