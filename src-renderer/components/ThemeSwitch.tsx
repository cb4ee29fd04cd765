/** Follow the system, or light, or dark: a three-way switch in the top bar (lib/theme.ts keeps it). */
import { useEffect, useState } from 'react';
import { onThemeChange, setTheme, THEME_CHOICES, themeChoice, type ThemeChoice } from '../lib/theme';

const LABEL: Record<ThemeChoice, string> = { system: 'Follow the system', light: 'Light', dark: 'Dark' };
const SHORT: Record<ThemeChoice, string> = { system: 'Auto', light: 'Light', dark: 'Dark' };

export function useThemeChoice(): ThemeChoice {
  const [c, setC] = useState<ThemeChoice>(themeChoice());
  useEffect(() => onThemeChange(setC), []);
  return c;
}

export function ThemeSwitch() {
  const choice = useThemeChoice();
  return (
    <div className="seg theme-switch" role="radiogroup" aria-label="Theme" data-testid="theme-switch">
      {THEME_CHOICES.map((c) => (
        <button
          key={c}
          type="button"
          role="radio"
          aria-checked={choice === c}
          aria-label={LABEL[c]}
          title={LABEL[c]}
          className={`seg-btn ${choice === c ? 'seg-on' : ''}`}
          data-testid={`theme-${c}`}
          onClick={() => setTheme(c)}
        >
          {SHORT[c]}
        </button>
      ))}
    </div>
  );
}
