/**
 * Voice choice: the documented defaults per TTS type, ElevenLabs' built-in table by language and
 * `voice_type`, the `voipbin.tts.elevenlabs.voice_id` override, and their precedence.
 */
import { describe, expect, it } from 'vitest';
import { deepgramVoiceFor } from '../../src/providers/tts/deepgram.js';
import { elevenLabsVoiceFor } from '../../src/providers/tts/elevenlabs.js';
import { openAiVoiceFor } from '../../src/providers/tts/openai.js';
import { DEFAULT_VOICE_BY_TTS_TYPE, ELEVENLABS_BUILTIN_VOICES, ELEVENLABS_VOICE_VARIABLE, resolveVoice } from '../../src/providers/tts/voices.js';

const VAR = { [ELEVENLABS_VOICE_VARIABLE]: 'custom-from-variable' };

describe('default voices', () => {
  it('are the overview\u2019s "Default Voice IDs by TTS Type"', () => {
    expect(ELEVENLABS_VOICE_VARIABLE).toBe('voipbin.tts.elevenlabs.voice_id');
    expect(DEFAULT_VOICE_BY_TTS_TYPE).toMatchObject({
      elevenlabs: 'EXAVITQu4vr4xnSDxMaL',
      deepgram: 'aura-2-thalia-en',
      openai: 'alloy',
      aws: 'Joanna',
      azure: 'en-US-JennyNeural',
      google: 'en-US-Wavenet-D',
      cartesia: '71a7ad14-091c-4e8e-a314-022ece01c121',
    });
    for (const [type, voice] of Object.entries(DEFAULT_VOICE_BY_TTS_TYPE)) expect(resolveVoice({ ttsType: type })).toBe(voice);
  });

  it('gives an empty voice for a type without a documented default', () => {
    expect(resolveVoice({ ttsType: 'hume' })).toBe('');
    expect(resolveVoice({ ttsType: 'hume', voiceId: 'v1' })).toBe('v1');
  });
});

describe('ElevenLabs built-in voices (overview table)', () => {
  it.each([
    ['en-US', 'male', '21m00Tcm4TlvDq8ikWAM'],
    ['en-US', 'female', 'EXAVITQu4vr4xnSDxMaL'],
    ['ja-JP', 'male', 'Mv8AjrYZCBkdsmDHNwcB'],
    ['ja', 'female', 'PmgfHCGeS5b7sH90BOOJ'],
    ['ko-KR', 'neutral', 'AW5wrnG1jVizOYY7R1Oo'],
    ['ar', 'female', 'EXAVITQu4vr4xnSDxMaL'],
    ['ar', 'neutral', '4wf10lgibMnboGJGCLrP'],
    ['pl-PL', 'male', 'H5xTcsAIeS5RAykjz57a'],
    ['de-DE', undefined, 'nF7t9cuYo0u3kuVI9q4B'],
    // Unknown language with a gender: the default (English) row.
    ['sw-KE', 'male', '21m00Tcm4TlvDq8ikWAM'],
    // Nothing to go on: the type's default.
    ['sw-KE', undefined, 'EXAVITQu4vr4xnSDxMaL'],
    [undefined, 'MALE', '21m00Tcm4TlvDq8ikWAM'],
    ['fr', 'robot', 'SmWACbi37pETyxxMhSpc'],
  ])('%s / %s → %s', (language, gender, voice) => {
    expect(resolveVoice({ ttsType: 'elevenlabs', language, gender })).toBe(voice);
  });

  it('has the 14 documented languages, each [male, female, neutral]', () => {
    expect(Object.keys(ELEVENLABS_BUILTIN_VOICES).sort()).toEqual(['ar', 'de', 'en', 'es', 'fr', 'hi', 'it', 'ja', 'ko', 'nl', 'pl', 'pt', 'ru', 'zh']);
    for (const row of Object.values(ELEVENLABS_BUILTIN_VOICES)) expect(row).toHaveLength(3);
  });
});

describe('precedence: explicit id > voipbin.tts.elevenlabs.voice_id > language/gender table > default', () => {
  it.each([
    ['explicit id beats the variable and the table', { ttsType: 'elevenlabs', voiceId: 'explicit', language: 'ja', gender: 'male', variables: VAR }, 'explicit'],
    ['the variable beats the table', { ttsType: 'elevenlabs', language: 'ja', gender: 'male', variables: VAR }, 'custom-from-variable'],
    ['the variable beats the default', { ttsType: 'ElevenLabs', variables: VAR }, 'custom-from-variable'],
    ['a blank variable is ignored', { ttsType: 'elevenlabs', language: 'ja', variables: { [ELEVENLABS_VOICE_VARIABLE]: '  ' } }, 'PmgfHCGeS5b7sH90BOOJ'],
    ['a blank explicit id is ignored', { ttsType: 'elevenlabs', voiceId: ' ', variables: VAR }, 'custom-from-variable'],
    ['the variable is read from a Map', { ttsType: 'elevenlabs', variables: new Map([[ELEVENLABS_VOICE_VARIABLE, 'from-map']]) }, 'from-map'],
    ['the ElevenLabs variable does not apply to deepgram', { ttsType: 'deepgram', language: 'es', variables: VAR }, 'aura-2-celeste-es'],
    ['the ElevenLabs variable does not apply to cartesia', { ttsType: 'cartesia', variables: VAR }, '71a7ad14-091c-4e8e-a314-022ece01c121'],
    ['deepgram male in English', { ttsType: 'deepgram', language: 'en-GB', gender: 'male' }, 'aura-2-apollo-en'],
    ['deepgram has no Japanese voice: default', { ttsType: 'deepgram', language: 'ja' }, 'aura-2-thalia-en'],
    ['openai by gender', { ttsType: 'openai', gender: 'female', language: 'ja' }, 'nova'],
    ['openai without gender', { ttsType: 'openai', language: 'ja' }, 'alloy'],
    ['cartesia ignores language and gender', { ttsType: 'cartesia', language: 'ja', gender: 'male' }, '71a7ad14-091c-4e8e-a314-022ece01c121'],
    ['explicit id for a type without an adapter', { ttsType: 'aws', voiceId: 'Mizuki', language: 'ja' }, 'Mizuki'],
  ] as const)('%s', (_name, choice, voice) => {
    expect(resolveVoice(choice)).toBe(voice);
  });

  it('the HTTP adapters pick through the same rules (request > configured default > table > default)', () => {
    expect(elevenLabsVoiceFor({ text: 'x', language: 'ja', gender: 'male' })).toBe('Mv8AjrYZCBkdsmDHNwcB');
    expect(elevenLabsVoiceFor({ text: 'x', language: 'ja' }, 'configured')).toBe('configured');
    expect(elevenLabsVoiceFor({ text: 'x', voiceId: 'req', language: 'ja' }, 'configured')).toBe('req');
    expect(deepgramVoiceFor({ language: 'es', gender: 'male' })).toBe('aura-2-nestor-es');
    expect(deepgramVoiceFor({ language: 'es' }, ' ')).toBe('aura-2-celeste-es');
    expect(openAiVoiceFor({ gender: 'male' })).toBe('onyx');
    expect(openAiVoiceFor({ gender: 'male' }, 'shimmer')).toBe('shimmer');
  });
});
