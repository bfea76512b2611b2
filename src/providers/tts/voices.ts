/**
 * Which voice a TTS provider speaks with: the rules VoIPBIN documents (AI overview, "Default Voice
 * IDs by TTS Type", "Built-in ElevenLabs Voice IDs", "Other ElevenLabs Voice ID Options") and the
 * adapters' own gender/language picks for the providers the docs give no table for.
 *
 * Precedence, highest first (see {@link resolveVoice}):
 *  1. the voice id configured on the AI (`tts_voice_id`) or the action;
 *  2. for ElevenLabs only, the flow variable `voipbin.tts.elevenlabs.voice_id` — the docs say it
 *     "override[s] the default voice selection", i.e. the built-in table, not an explicit id;
 *  3. the built-in table for the language and gender (`voice_type`: male / female / neutral);
 *  4. the TTS type's default voice.
 */
import { DEFAULT_TTS_VOICE_IDS } from '../../catalog/ai.js';
import { normalizeGender, primaryLanguage } from './stream.js';

/** `voice_type` of an action, normalized. */
export type VoiceGender = 'male' | 'female' | 'neutral';

/** The flow variable that overrides ElevenLabs' built-in voice choice. */
export const ELEVENLABS_VOICE_VARIABLE = 'voipbin.tts.elevenlabs.voice_id';

/**
 * Default voice of each TTS type (VoIPBIN AI overview, "Default Voice IDs by TTS Type"): elevenlabs
 * `EXAVITQu4vr4xnSDxMaL` (Rachel), deepgram `aura-2-thalia-en`, openai `alloy`, aws `Joanna`, azure
 * `en-US-JennyNeural`, google `en-US-Wavenet-D`, cartesia `71a7ad14-091c-4e8e-a314-022ece01c121`.
 * The catalog holds the table (the REST API fills `tts_voice_id` from it); this is the same object.
 */
export const DEFAULT_VOICE_BY_TTS_TYPE: Readonly<Record<string, string>> = DEFAULT_TTS_VOICE_IDS;

/**
 * VoIPBIN's built-in ElevenLabs voices by language (AI overview, "Built-in ElevenLabs Voice IDs"):
 * `[male, female, neutral]`, keyed by ISO 639-1 code. English is the documented default row.
 * Arabic's female entry is Rachel's id as the docs list it (its neutral one is Farah's).
 */
export const ELEVENLABS_BUILTIN_VOICES: Readonly<Record<string, readonly [string, string, string]>> = {
  en: ['21m00Tcm4TlvDq8ikWAM', 'EXAVITQu4vr4xnSDxMaL', 'EXAVITQu4vr4xnSDxMaL'],
  ja: ['Mv8AjrYZCBkdsmDHNwcB', 'PmgfHCGeS5b7sH90BOOJ', 'PmgfHCGeS5b7sH90BOOJ'],
  zh: ['MI36FIkp9wRP7cpWKPTl', 'ZL9dtgFhmkTzAHUUtQL8', 'ZL9dtgFhmkTzAHUUtQL8'],
  de: ['uM8iMoqaSe1eDaJiWfxf', 'nF7t9cuYo0u3kuVI9q4B', 'nF7t9cuYo0u3kuVI9q4B'],
  fr: ['IPgYtHTNLjC7Bq7IPHrm', 'SmWACbi37pETyxxMhSpc', 'SmWACbi37pETyxxMhSpc'],
  hi: ['IvLWq57RKibBrqZGpQrC', 'MF4J4IDTRo0AxOO4dpFR', 'MF4J4IDTRo0AxOO4dpFR'],
  ko: ['nbrxrAz3eYm9NgojrmFK', 'AW5wrnG1jVizOYY7R1Oo', 'AW5wrnG1jVizOYY7R1Oo'],
  it: ['iLVmqjzCGGvqtMCk6vVQ', 'b8jhBTcGAq4kQGWmKprT', 'b8jhBTcGAq4kQGWmKprT'],
  es: ['JjHBC66wF58p4ogebCNA', 'UOIqAnmS11Reiei1Ytkc', 'UOIqAnmS11Reiei1Ytkc'],
  pt: ['NdHRjGnnDKGnnm2c19le', 'CZD4BJ803C6T0alQxsR7', 'CZD4BJ803C6T0alQxsR7'],
  nl: ['G53Wkf3yrsXvhoQsmslL', 'YUdpWWny7k5yb4QCeweX', 'YUdpWWny7k5yb4QCeweX'],
  ru: ['qJBO8ZmKp4te7NTtYgzz', 'ymDCYd8puC7gYjxIamPt', 'ymDCYd8puC7gYjxIamPt'],
  ar: ['s83SAGdFTflAwJcAV81K', 'EXAVITQu4vr4xnSDxMaL', '4wf10lgibMnboGJGCLrP'],
  pl: ['H5xTcsAIeS5RAykjz57a', 'W0sqKm1Sfw1EzlCH14FQ', 'W0sqKm1Sfw1EzlCH14FQ'],
};

/**
 * Deepgram Aura-2 voices by language, `[male, female]` (neutral takes the female one). Not from the
 * VoIPBIN docs, which list only Deepgram's default: Aura-2 ships English and Spanish voices.
 */
export const DEEPGRAM_BUILTIN_VOICES: Readonly<Record<string, readonly [string, string]>> = {
  en: ['aura-2-apollo-en', 'aura-2-thalia-en'],
  es: ['aura-2-nestor-es', 'aura-2-celeste-es'],
};

/** OpenAI's built-in voices by gender (its voices are multilingual, so no language table). */
export const OPENAI_GENDER_VOICES: Readonly<Record<VoiceGender, string>> = { male: 'onyx', female: 'nova', neutral: 'alloy' };

export interface VoiceChoice {
  /** The AI's `tts_type` (`elevenlabs`, `deepgram`, `openai`, `cartesia`, ...; case-insensitive). */
  ttsType: string;
  /** Explicit voice id: the AI's `tts_voice_id`, an action option, or an adapter's configured default. */
  voiceId?: string;
  /** BCP-47 or ISO 639-1 language of the speech (`ja-JP`, `en`). */
  language?: string;
  /** The action's `voice_type`: `male`, `female` or `neutral` (anything else is ignored). */
  gender?: string;
  /** The flow's variables (only {@link ELEVENLABS_VOICE_VARIABLE} is read). */
  variables?: Readonly<Record<string, string | undefined>> | ReadonlyMap<string, string>;
}

function variable(vars: VoiceChoice['variables'], key: string): string | undefined {
  if (!vars) return undefined;
  const v = vars instanceof Map ? vars.get(key) : (vars as Readonly<Record<string, string | undefined>>)[key];
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

/** The built-in voice for a language and gender, or undefined when the type has no table entry. */
function builtinVoice(type: string, language: string | undefined, gender: VoiceGender | undefined): string | undefined {
  const lang = primaryLanguage(language);
  switch (type) {
    case 'elevenlabs': {
      // A known language picks its row; a gender alone picks from the default (English) row.
      const row = (lang && ELEVENLABS_BUILTIN_VOICES[lang]) || (gender ? ELEVENLABS_BUILTIN_VOICES.en : undefined);
      if (!row) return undefined;
      return gender === 'male' ? row[0] : gender === 'neutral' ? row[2] : row[1];
    }
    case 'deepgram': {
      const row = (lang && DEEPGRAM_BUILTIN_VOICES[lang]) || (gender ? DEEPGRAM_BUILTIN_VOICES.en : undefined);
      if (!row) return undefined;
      return gender === 'male' ? row[0] : row[1];
    }
    case 'openai':
      return gender ? OPENAI_GENDER_VOICES[gender] : undefined;
    default:
      // Cartesia and the types without an adapter: only the documented default.
      return undefined;
  }
}

/**
 * The voice to speak with (precedence in the module doc): explicit id > the ElevenLabs variable >
 * the language/gender table > the type's default. Returns `''` only for a type with no documented
 * default when nothing else applies.
 */
export function resolveVoice(choice: VoiceChoice): string {
  const type = choice.ttsType.trim().toLowerCase();
  const explicit = choice.voiceId?.trim();
  if (explicit) return explicit;
  if (type === 'elevenlabs') {
    const override = variable(choice.variables, ELEVENLABS_VOICE_VARIABLE);
    if (override) return override;
  }
  return builtinVoice(type, choice.language, normalizeGender(choice.gender)) ?? DEFAULT_VOICE_BY_TTS_TYPE[type] ?? '';
}
