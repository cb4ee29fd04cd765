/**
 * Continue: `~/.continue/config.yaml`, one entry in `models` (provider `openai`, `apiBase` = the
 * relay). Edited through the `yaml` Document API, so comments, order and the other entries stay;
 * the entry named "Lingma Relay" is replaced when it is there. A new file gets the top-level
 * `name` / `version` / `schema` Continue requires.
 */
import YAML, { isMap, isSeq } from 'yaml';
import { errors } from '../errors';
import type { ClientWriter } from './types';

export const CONTINUE_MODEL_NAME = 'Lingma Relay';
const FILE = '~/.continue/config.yaml';

export const continueDev: ClientWriter = {
  id: 'continue',
  title: 'Continue',
  file: ['.continue', 'config.yaml'],
  format: 'yaml',
  render(current, t) {
    const entry = { name: CONTINUE_MODEL_NAME, provider: 'openai', model: t.model, apiBase: t.endpoint, apiKey: t.apiKey };
    const fresh = current === undefined || current.trim() === '';
    const doc = fresh ? new YAML.Document({ name: 'Local Assistant', version: '1.0.0', schema: 'v1', models: [] }) : YAML.parseDocument(current);
    if (doc.errors.length) {
      const e = doc.errors[0];
      throw errors.invalid(`${FILE} does not parse (${e.code} at line ${e.linePos?.[0].line ?? '?'}); fix it first, nothing was changed.`, undefined, 'client_file_invalid');
    }
    if (!fresh && !isMap(doc.contents)) throw errors.invalid(`${FILE} must hold a mapping at the top; nothing was changed.`, undefined, 'client_file_invalid');
    const models = doc.get('models', true);
    if (models === undefined || models === null) {
      doc.set('models', doc.createNode([entry]));
    } else if (isSeq(models)) {
      const at = models.items.findIndex((it) => isMap(it) && it.get('name') === CONTINUE_MODEL_NAME);
      if (at >= 0) models.items[at] = doc.createNode(entry);
      else models.items.push(doc.createNode(entry));
    } else {
      throw errors.invalid(`${FILE}: models is not a list; nothing was changed.`, 'models', 'client_file_invalid');
    }
    return doc.toString({ lineWidth: 0 });
  },
};
