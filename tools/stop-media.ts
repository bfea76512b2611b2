import { z } from 'zod';
import { describeTool, runLlmField } from './fields.js';
import { toParameters } from './json-schema.js';
import type { ToolDefinition } from './types.js';

export const stopMediaSchema = z.object({
  run_llm: runLlmField('Set true to speak after stopping media.'),
});

export type StopMediaArgs = z.output<typeof stopMediaSchema>;

export const stopMedia: ToolDefinition<StopMediaArgs> = {
  name: 'stop_media',
  description: describeTool({
    summary:
      "Stops media from a previous action that is currently playing on the call (the previous action's playback stops; the AI conversation continues).",
    use: [
      'the AI has finished loading and needs to stop hold music or a greeting',
      "a previous flow action's media playback should stop before the AI speaks",
      'transitioning from pre-recorded media to the live AI conversation',
    ],
    avoid: [
      'ending the AI conversation (use stop_service)',
      'ending the whole call (use stop_flow)',
    ],
  }),
  schema: stopMediaSchema,
  parameters: toParameters(stopMediaSchema),
  defaultRunLlm: false,
};
