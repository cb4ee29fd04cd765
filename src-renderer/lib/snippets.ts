/** Copy-paste setup for common clients, filled with the real endpoint and key. */

export interface Snippet {
  id: string;
  title: string;
  hint: string;
  /** File or place it goes. */
  where?: string;
  code: string;
}

export function snippets(endpoint: string, apiKey: string, model = 'coder'): Snippet[] {
  const root = endpoint.replace(/\/v1\/?$/, '');
  return [
    {
      id: 'openai-sdk',
      title: 'OpenAI SDK',
      hint: 'Python or Node: point base_url at the relay.',
      code: `from openai import OpenAI\n\nclient = OpenAI(base_url="${endpoint}", api_key="${apiKey}")\nreply = client.chat.completions.create(\n    model="${model}",\n    messages=[{"role": "user", "content": "Hello"}],\n)\nprint(reply.choices[0].message.content)`,
    },
    {
      id: 'curl',
      title: 'curl',
      hint: 'A quick check from a terminal.',
      code: `curl ${endpoint}/chat/completions \\\n  -H "Authorization: Bearer ${apiKey}" \\\n  -H "Content-Type: application/json" \\\n  -d '{"model": "${model}", "messages": [{"role": "user", "content": "Hello"}]}'`,
    },
    {
      id: 'claude-code',
      title: 'Claude Code',
      hint: 'Claude model names are mapped by alias patterns such as claude-*.',
      where: 'shell, before running claude',
      code: `export ANTHROPIC_BASE_URL="${root}"\nexport ANTHROPIC_AUTH_TOKEN="${apiKey}"\nclaude`,
    },
    {
      id: 'codex',
      title: 'Codex CLI',
      hint: 'Uses the Responses API.',
      where: '~/.codex/config.toml',
      code: `model = "${model}"\nmodel_provider = "lingma-relay"\n\n[model_providers.lingma-relay]\nname = "Lingma Relay"\nbase_url = "${endpoint}"\nenv_key = "LINGMA_RELAY_API_KEY"\nwire_api = "responses"\n\n# then, in your shell:\n# export LINGMA_RELAY_API_KEY="${apiKey}"`,
    },
    {
      id: 'cursor',
      title: 'Cursor',
      hint: 'Settings → Models → OpenAI API Key: paste the key, turn on "Override OpenAI Base URL", then add the model name.',
      code: `Base URL:  ${endpoint}\nAPI key:   ${apiKey}\nModel:     ${model}`,
    },
    {
      id: 'continue',
      title: 'Continue',
      hint: 'Add a model to your Continue config.',
      where: '~/.continue/config.yaml',
      code: `models:\n  - name: Lingma Relay\n    provider: openai\n    model: ${model}\n    apiBase: ${endpoint}\n    apiKey: ${apiKey}`,
    },
    {
      id: 'cline',
      title: 'Cline',
      hint: 'API Provider: "OpenAI Compatible".',
      code: `Base URL:  ${endpoint}\nAPI Key:   ${apiKey}\nModel ID:  ${model}`,
    },
    {
      id: 'qwen-code',
      title: 'qwen-code',
      hint: 'qwen-code reads OpenAI-style variables.',
      where: 'shell, or .env in your project',
      code: `export OPENAI_BASE_URL="${endpoint}"\nexport OPENAI_API_KEY="${apiKey}"\nexport OPENAI_MODEL="${model}"\nqwen`,
    },
  ];
}
