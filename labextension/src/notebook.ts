import { Contents, KernelSpec } from '@jupyterlab/services';

/** The cells of a new AI Mass notebook: the Workbench, then a first training job. */
export const TEMPLATE_CELLS = [
  {
    id: 'aimass-intro',
    cell_type: 'markdown',
    metadata: {},
    source: [
      '# AI Mass notebook\n',
      '\n',
      'The **Workbench** below follows the workspace: datasets, training runs, searches, ',
      'models and deployments. The **AI Mass** sidebar on the left shows the same jobs, ',
      'studies, models and deployments, and they outlive this kernel.'
    ]
  },
  {
    cell_type: 'code',
    execution_count: null,
    metadata: {},
    outputs: [],
    source: ['import aimass_lab\n', '\n', 'aimass_lab.Workbench()'],
    id: 'aimass-workbench'
  },
  {
    cell_type: 'code',
    execution_count: null,
    metadata: {},
    outputs: [],
    source: [
      '# A first training job (a background process): watch it in the sidebar.\n',
      'run = aimass_lab.train("digits", "mlp", max_epochs=5)\n',
      'run'
    ],
    id: 'aimass-train'
  }
];

/** The kernel a new AI Mass notebook asks for: "AI Mass (Python 3)" when installed. */
export function pickKernel(
  specs: KernelSpec.ISpecModels | null | undefined
): KernelSpec.ISpecModel | null {
  if (!specs) {
    return null;
  }
  const all = Object.values(specs.kernelspecs).filter(
    (s): s is KernelSpec.ISpecModel => s !== undefined
  );
  return (
    all.find(s => s.name.toLowerCase().includes('aimass')) ??
    all.find(s => s.name === specs.default) ??
    all[0] ??
    null
  );
}

/** The notebook document of a new AI Mass notebook. */
export function templateNotebook(
  kernel: KernelSpec.ISpecModel | null
): Record<string, unknown> {
  const metadata: Record<string, unknown> = {
    language_info: { name: 'python' }
  };
  if (kernel) {
    metadata.kernelspec = {
      name: kernel.name,
      display_name: kernel.display_name,
      language: kernel.language
    };
  }
  return { cells: TEMPLATE_CELLS, metadata, nbformat: 4, nbformat_minor: 5 };
}

/** Write a new `aimass-N.ipynb` (the first free N) in `folder` from the template. */
export async function createTemplateNotebook(
  contents: Contents.IManager,
  folder: string,
  kernel: KernelSpec.ISpecModel | null
): Promise<Contents.IModel> {
  const listing = await contents.get(folder, { content: true });
  const taken = new Set(
    ((listing.content as Contents.IModel[] | null) ?? []).map(item => item.name)
  );
  let n = 1;
  while (taken.has(`aimass-${n}.ipynb`)) {
    n++;
  }
  const prefix = folder ? `${folder.replace(/\/+$/, '')}/` : '';
  return contents.save(`${prefix}aimass-${n}.ipynb`, {
    type: 'notebook',
    format: 'json',
    content: templateNotebook(kernel)
  });
}
