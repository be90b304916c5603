//! The audio the reference platform plays: the shipped announcement files and the
//! synthesised tones.
//!
//! # What this module owns
//!
//! - The five WAV files in `harness/platform/assets/` (8 kHz mono 16-bit PCM, see the
//!   README there), compiled into the binary with `include_bytes!` so the platform needs
//!   no file at run time, and decoded once into [`Assets`].
//! - The tone constants. They are public so that checks, scenario files and an external
//!   SUT profile can name the same values:
//!
//! | tone | frequency | length | level (RMS) | when |
//! |---|---|---|---|---|
//! | reminder ([`REMINDER_TONE_HZ`]) | 1400 Hz | 500 ms | -18 dBFS | every `repeat.interval` s while recording (POL-06) |
//! | pause/resume beep ([`NOTICE_BEEP_HZ`]) | 1000 Hz | 300 ms | -18 dBFS | `notification.type: Beep` (POL-07) |
//! | voicemail beep ([`VOICEMAIL_BEEP_HZ`]) | 1000 Hz | 500 ms | -18 dBFS | after the voicemail greeting (POL-10) |
//!
//! All three frequencies lie in the protected bands of the instrumented party signal
//! (`media::signal`: 1000 Hz and 1400 Hz), so a tone mixed over a party's audio does not
//! disturb frame decoding and the tone detector does not confuse party audio with a tone.
//!
//! # What it must not touch
//!
//! No I/O at run time, no randomness: every call returns the same samples.

use media::wav::{WavError, read_wav};
use std::sync::Arc;
use std::time::Duration;

/// Reminder ("this call is recorded") tone frequency, Hz (POL-06).
pub const REMINDER_TONE_HZ: f64 = 1400.0;
/// Reminder tone length.
pub const REMINDER_TONE_LEN: Duration = Duration::from_millis(500);
/// Reminder tone level, dBFS RMS.
pub const REMINDER_TONE_DBFS: f64 = -18.0;

/// Pause/resume beep frequency, Hz (POL-07, `notification.type: Beep`).
pub const NOTICE_BEEP_HZ: f64 = 1000.0;
/// Pause/resume beep length.
pub const NOTICE_BEEP_LEN: Duration = Duration::from_millis(300);
/// Pause/resume beep level, dBFS RMS.
pub const NOTICE_BEEP_DBFS: f64 = -18.0;

/// Voicemail "leave your message after the tone" beep frequency, Hz (POL-10).
pub const VOICEMAIL_BEEP_HZ: f64 = 1000.0;
/// Voicemail beep length.
pub const VOICEMAIL_BEEP_LEN: Duration = Duration::from_millis(500);
/// Voicemail beep level, dBFS RMS.
pub const VOICEMAIL_BEEP_DBFS: f64 = -18.0;

/// `announcement-start.wav`: "This call is being recorded." (POL-03).
pub const ANNOUNCEMENT_START_WAV: &[u8] = include_bytes!("../assets/announcement-start.wav");
/// `announcement-stop.wav`: "Recording has stopped." (POL-03; also the POL-13 failure
/// notice, see the crate README).
pub const ANNOUNCEMENT_STOP_WAV: &[u8] = include_bytes!("../assets/announcement-stop.wav");
/// `announcement-pause.wav`: "Recording is paused." (POL-07).
pub const ANNOUNCEMENT_PAUSE_WAV: &[u8] = include_bytes!("../assets/announcement-pause.wav");
/// `announcement-resume.wav`: "Recording has resumed." (POL-07).
pub const ANNOUNCEMENT_RESUME_WAV: &[u8] = include_bytes!("../assets/announcement-resume.wav");
/// `voicemail-greeting.wav`: "The person you are calling is not available. Please leave a
/// message after the tone." (POL-10).
pub const VOICEMAIL_GREETING_WAV: &[u8] = include_bytes!("../assets/voicemail-greeting.wav");

/// Prompt names used in observations and in the announcement element's `prompt`
/// attribute, and as reference-clip names by the tests.
pub mod prompt {
    /// `announcement-start.wav`.
    pub const START: &str = "recording-start";
    /// `announcement-stop.wav`.
    pub const STOP: &str = "recording-stop";
    /// `announcement-pause.wav`.
    pub const PAUSE: &str = "recording-paused";
    /// `announcement-resume.wav`.
    pub const RESUME: &str = "recording-resumed";
    /// The 1000 Hz pause/resume beep.
    pub const BEEP: &str = "beep-1000hz";
    /// `voicemail-greeting.wav`.
    pub const VOICEMAIL_GREETING: &str = "voicemail-greeting";
}

/// Samples of a duration at 8 kHz.
pub fn samples_of(d: Duration) -> usize {
    (d.as_micros() * u128::from(media::SAMPLE_RATE) / 1_000_000) as usize
}

/// Every sound the platform plays, decoded to 8 kHz PCM once.
#[derive(Debug, Clone)]
pub struct Assets {
    /// Start announcement.
    pub start: Arc<[i16]>,
    /// Stop announcement.
    pub stop: Arc<[i16]>,
    /// Pause announcement.
    pub pause: Arc<[i16]>,
    /// Resume announcement.
    pub resume: Arc<[i16]>,
    /// Voicemail greeting.
    pub greeting: Arc<[i16]>,
    /// Reminder tone.
    pub reminder: Arc<[i16]>,
    /// Pause/resume beep.
    pub beep: Arc<[i16]>,
    /// Voicemail beep.
    pub voicemail_beep: Arc<[i16]>,
}

/// A shipped file that does not decode as the 8 kHz mono WAV the platform plays (a
/// build problem, never peer input).
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    /// The WAV reader refused the file.
    #[error("asset {name}: {source}")]
    Wav {
        /// File name.
        name: &'static str,
        /// Why.
        source: WavError,
    },
    /// Not 8 kHz mono.
    #[error("asset {name}: {rate} Hz, {channels} channel(s); the platform plays 8 kHz mono")]
    Format {
        /// File name.
        name: &'static str,
        /// Its rate.
        rate: u32,
        /// Its channel count.
        channels: usize,
    },
}

fn decode(name: &'static str, bytes: &[u8]) -> Result<Arc<[i16]>, AssetError> {
    let audio = read_wav(bytes).map_err(|source| AssetError::Wav { name, source })?;
    if audio.sample_rate != media::SAMPLE_RATE || audio.channels.len() != 1 {
        return Err(AssetError::Format {
            name,
            rate: audio.sample_rate,
            channels: audio.channels.len(),
        });
    }
    Ok(audio.channels.into_iter().next().unwrap_or_default().into())
}

impl Assets {
    /// The shipped files decoded and the tones synthesised, once per process: every
    /// platform shares the samples (they are never written), so building one costs no
    /// decoding (a load run, a fuzz target and the test suites build many).
    pub fn load() -> Result<Self, AssetError> {
        static DECODED: std::sync::OnceLock<Assets> = std::sync::OnceLock::new();
        if let Some(assets) = DECODED.get() {
            return Ok(assets.clone());
        }
        let assets = Self::decode_all()?;
        Ok(DECODED.get_or_init(|| assets).clone())
    }

    /// Decodes the shipped files and synthesises the tones.
    fn decode_all() -> Result<Self, AssetError> {
        Ok(Self {
            start: decode("announcement-start.wav", ANNOUNCEMENT_START_WAV)?,
            stop: decode("announcement-stop.wav", ANNOUNCEMENT_STOP_WAV)?,
            pause: decode("announcement-pause.wav", ANNOUNCEMENT_PAUSE_WAV)?,
            resume: decode("announcement-resume.wav", ANNOUNCEMENT_RESUME_WAV)?,
            greeting: decode("voicemail-greeting.wav", VOICEMAIL_GREETING_WAV)?,
            reminder: media::synth::tone(
                REMINDER_TONE_HZ,
                REMINDER_TONE_DBFS,
                samples_of(REMINDER_TONE_LEN),
            )
            .into(),
            beep: media::synth::tone(
                NOTICE_BEEP_HZ,
                NOTICE_BEEP_DBFS,
                samples_of(NOTICE_BEEP_LEN),
            )
            .into(),
            voicemail_beep: media::synth::tone(
                VOICEMAIL_BEEP_HZ,
                VOICEMAIL_BEEP_DBFS,
                samples_of(VOICEMAIL_BEEP_LEN),
            )
            .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_files_decode_to_8khz_mono_with_speech_length() {
        let a = Assets::load().expect("assets");
        for (name, pcm) in [
            ("start", &a.start),
            ("stop", &a.stop),
            ("pause", &a.pause),
            ("resume", &a.resume),
            ("greeting", &a.greeting),
        ] {
            let secs = pcm.len() as f64 / 8000.0;
            assert!((1.0..8.0).contains(&secs), "{name}: {secs} s");
            assert!(pcm.iter().any(|s| s.unsigned_abs() > 1000), "{name} silent");
        }
        assert_eq!(a.reminder.len(), 4000);
        assert_eq!(a.beep.len(), 2400);
        assert_eq!(a.voicemail_beep.len(), 4000);
        let level = media::synth::rms_dbfs(&a.reminder);
        assert!((level + 18.0).abs() < 0.2, "{level}");
    }

    #[test]
    fn a_file_that_is_not_wav_is_refused() {
        assert!(decode("x", b"RIFF....not a wav").is_err());
    }
}
