// A C interface to WebRTC audio processing 0.3 (Debian libwebrtc-audio-processing-dev) for `tutti eval`.
// One APM instance per scene, configured for one task: 0 = echo cancellation (legacy AEC, extended
// filter, delay-agnostic, high suppression), 1 = noise suppression (high), 2 = AGC1 adaptive digital.
#include <webrtc/modules/audio_processing/include/audio_processing.h>

extern "C" {

void* tutti_apm_create(int task, int rate) {
  webrtc::Config config;
  config.Set<webrtc::ExtendedFilter>(new webrtc::ExtendedFilter(true));
  config.Set<webrtc::DelayAgnostic>(new webrtc::DelayAgnostic(true));
  config.Set<webrtc::ExperimentalAgc>(new webrtc::ExperimentalAgc(false));
  webrtc::AudioProcessing* apm = webrtc::AudioProcessing::Create(config);
  if (!apm) return nullptr;
  int err = 0;
  switch (task) {
    case 0:
      err |= apm->echo_cancellation()->set_suppression_level(webrtc::EchoCancellation::kHighSuppression);
      err |= apm->echo_cancellation()->Enable(true);
      break;
    case 1:
      err |= apm->noise_suppression()->set_level(webrtc::NoiseSuppression::kHigh);
      err |= apm->noise_suppression()->Enable(true);
      break;
    default:
      err |= apm->gain_control()->set_mode(webrtc::GainControl::kAdaptiveDigital);
      err |= apm->gain_control()->Enable(true);
      break;
  }
  (void)rate;
  if (err != 0) {
    delete apm;
    return nullptr;
  }
  return apm;
}

// Processes one 10 ms mono frame of `frames` samples (floats, full scale ±1). `far_in` may be null.
// Returns the APM error code of the capture-side call (0 = success).
int tutti_apm_process(void* h, int rate, const float* near_in, const float* far_in, float* out, int frames) {
  webrtc::AudioProcessing* apm = static_cast<webrtc::AudioProcessing*>(h);
  webrtc::StreamConfig sc(rate, 1, false);
  if (frames != static_cast<int>(sc.num_frames())) return -1000;
  if (far_in) {
    float far_copy[480];
    const float* fsrc[1] = {far_in};
    float* fdst[1] = {far_copy};
    int e = apm->ProcessReverseStream(fsrc, sc, sc, fdst);
    if (e != 0) return e;
    apm->set_stream_delay_ms(0);
  }
  const float* src[1] = {near_in};
  float* dst[1] = {out};
  return apm->ProcessStream(src, sc, sc, dst);
}

void tutti_apm_destroy(void* h) {
  delete static_cast<webrtc::AudioProcessing*>(h);
}

}
